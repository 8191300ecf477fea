"""Releasing the prod images of a commit.

publish.py     build, scan, SBOM, push (through devtools.registry.push) and record, by digest
manifest.py    what one release pushed (build/release/<revision>.json), written last and atomically;
               `deploy render TARGET --release` names images from it
scan.py        pending Debian security updates per image, checked for real; sbom.py: CycloneDX SBOMs
"""

"""serving.reloader's bytecode handed to forked workers: reused only for the very bytes it was compiled
from, so an edit is never served stale, and only for the reloaded packages' folders."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from serving import reloader


@pytest.fixture
def package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "warmpkg"
    folder.mkdir()
    (folder / "__init__.py").write_text("")
    (folder / "mod.py").write_text("ANSWER = 1\n")
    monkeypatch.setattr(reloader, "SOURCE_DIRS", (folder,))
    monkeypatch.setattr(reloader, "_COMPILED", {})
    return folder


def test_a_compiled_source_is_reused_for_the_same_bytes_only(package: Path) -> None:
    mod = package / "mod.py"
    first = reloader.source_fingerprint()
    reloader._compile_changed((), first)
    source, code = reloader._COMPILED[str(mod)]
    loader = reloader._WarmSourceLoader("warmpkg.mod", str(mod))
    assert loader.source_to_code(source, str(mod)) is code
    # Edited (same size, same second: what an mtime check could miss): compiled afresh from the file.
    edited = b"ANSWER = 2\n"
    fresh = loader.source_to_code(edited, str(mod))
    assert fresh is not code
    namespace: dict[str, object] = {}
    exec(fresh, namespace)
    assert namespace["ANSWER"] == 2


def test_only_what_changed_is_compiled_again(package: Path) -> None:
    reloader._compile_changed((), before := reloader.source_fingerprint())
    kept = reloader._COMPILED[str(package / "__init__.py")][1]
    (package / "mod.py").write_text("ANSWER = 22\n")
    reloader._compile_changed(before, reloader.source_fingerprint())
    assert reloader._COMPILED[str(package / "__init__.py")][1] is kept
    assert reloader._COMPILED[str(package / "mod.py")][0] == b"ANSWER = 22\n"
    (package / "mod.py").write_text("ANSWER = (\n")  # a syntax error: the worker's import reports it
    reloader._compile_changed(before, reloader.source_fingerprint())
    assert str(package / "mod.py") not in reloader._COMPILED


def test_the_hook_takes_the_reloaded_folders_and_imports_through_them(
    package: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ImportError):
        reloader._warm_finder(str(package.parent.parent))
    reloader._compile_changed((), reloader.source_fingerprint())
    monkeypatch.setattr(sys, "path_hooks", [reloader._warm_finder, *sys.path_hooks])
    monkeypatch.setattr(sys, "path_importer_cache", {})
    monkeypatch.syspath_prepend(str(package.parent))
    import warmpkg.mod  # type: ignore[import-not-found]

    try:
        assert isinstance(warmpkg.mod.__loader__, reloader._WarmSourceLoader)
        assert warmpkg.mod.ANSWER == 1
    finally:
        for name in ("warmpkg.mod", "warmpkg"):
            sys.modules.pop(name, None)

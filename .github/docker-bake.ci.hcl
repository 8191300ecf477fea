# CI's additions to the build definitions of the Compose files, for `docker buildx bake`
# (.github/workflows/ci.yml). Bake turns each Compose service into a target of the same name and
# merges these blocks into it, so Dockerfiles, targets and build args stay defined once, in Compose.
#
# - FROM ${BASE_IMAGE}: the service images build on the base target of the same bake run (a named
#   context), not on a registry or the local image store, which a docker-container builder cannot see.
#   BASE_IMAGE is a plain name so that it is the context's name exactly.
# - Layers are cached in the GitHub Actions cache, one scope per image and per build target.

variable "BUILD_TARGET" {
  # dev | prod: which Compose files the workflow passes; it only names the cache scopes here.
  default = "dev"
}

target "base" {
  cache-from = ["type=gha,scope=${BUILD_TARGET}-base"]
  cache-to   = ["type=gha,mode=max,scope=${BUILD_TARGET}-base"]
}

target "mlflow" {
  args       = { BASE_IMAGE = "ci-base" }
  contexts   = { "ci-base" = "target:base" }
  cache-from = ["type=gha,scope=${BUILD_TARGET}-mlflow"]
  cache-to   = ["type=gha,mode=max,scope=${BUILD_TARGET}-mlflow"]
}

target "serving" {
  args       = { BASE_IMAGE = "ci-base" }
  contexts   = { "ci-base" = "target:base" }
  cache-from = ["type=gha,scope=${BUILD_TARGET}-serving"]
  cache-to   = ["type=gha,mode=max,scope=${BUILD_TARGET}-serving"]
}

target "training" {
  args       = { BASE_IMAGE = "ci-base" }
  contexts   = { "ci-base" = "target:base" }
  cache-from = ["type=gha,scope=${BUILD_TARGET}-training"]
  cache-to   = ["type=gha,mode=max,scope=${BUILD_TARGET}-training"]
}

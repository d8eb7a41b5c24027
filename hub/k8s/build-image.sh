#!/usr/bin/env bash
# Build the students' image: repo2docker (as Binder does) on the STUDENT side of the repository
# only, then hub/k8s/Dockerfile on top. The plain repo2docker image of the whole repository holds
# grader/ (solutions, hidden tests, mutants) in the students' home: never use that for a class.
# Needs Docker and `pip install jupyter-repo2docker`. Not run by the tests (no Docker here).
set -euo pipefail
cd "$(dirname "$0")/../.."
tag=${1:-registry.example.org/gpt2-course/student:$(git rev-parse --short HEAD)}
context=$(mktemp -d)
trap 'rm -rf "$context"' EXIT
# What a student may see: the lessons, the packages they import, Binder's build files.
git archive HEAD gpt2ref quiz course lessons pyproject.toml requirements.txt environment.yml postBuild README.md \
    | tar -x -C "$context"
repo2docker --no-run --user-name jovyan --image-name gpt2-course-student-base "$context"
docker build -f hub/k8s/Dockerfile --build-arg BASE=gpt2-course-student-base -t "$tag" .
echo "built $tag"

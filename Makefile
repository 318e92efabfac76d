# Sigwatch. Two commands do everything on a fresh machine:
#   make demo   start a local cluster + registries and show Sigwatch's job on it
#   make test   lint, unit and integration tests against real components
# Everything they need is installed by the targets below (npm ci, Go builds
# into $(SIGWATCH_CACHE), Debian packages); see README.md.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
export SIGWATCH_CACHE ?= $(HOME)/.cache/sigwatch

.PHONY: all deps tools build lint test test-unit test-integration demo demo-down clean help

all: build

help:
	@echo "make demo        local cluster + registries + cosign, signed and unsigned pods labelled by the operator"
	@echo "make demo-down   stop what make demo started"
	@echo "make test        lint + unit + integration tests (builds the test environment on first use)"
	@echo "make build       compile TypeScript to dist/"
	@echo "make lint        tsc, ESLint, dependency-cruiser, Prettier"
	@echo "make tools       build/install the test environment into \$$SIGWATCH_CACHE"

# npm ci only when the lockfile changed since the last install.
node_modules/.installed: package.json package-lock.json
	npm ci
	@touch $@

deps: node_modules/.installed

tools:
	bash hack/install-apt.sh
	bash hack/build-tools.sh

build: deps
	npm run build

lint: deps
	npm run lint

test-unit: deps
	npm run test:unit

test-integration: deps tools
	npm run test:integration

test: deps tools
	bash hack/run-tests.sh

demo: deps tools build
	bash hack/demo.sh

demo-down:
	-bash hack/demo-down.sh

clean:
	rm -rf dist coverage
	-bash hack/testenv down

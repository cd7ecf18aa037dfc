# mpcguard — run `make help` for the targets.
#
# Every tool the tests need is built here from the Go module proxy (pinned in test/tools/*/go.mod) into a
# cache outside the checkout ($(CACHE)), or installed from Debian's packages. Nothing is downloaded as a binary.

SHELL := /usr/bin/env bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

CACHE ?= $(or $(MPCGUARD_CACHE),$(or $(XDG_CACHE_HOME),$(HOME)/.cache)/mpcguard)
export MPCGUARD_CACHE := $(CACHE)
TOOLS := $(CACHE)/bin
BUILD_TOOL := test/tools/build.sh
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
# The version flags of every mpcguard build: bin/mpcguard, the image (test/tools/image) and the Dockerfile.
VERSION_LDFLAGS := -X main.version=$(VERSION) -X main.commit=$(COMMIT)
GO_TEST_FLAGS ?= -count=1 -timeout 30m

OPA := $(TOOLS)/opa
CONTROLLER_GEN := $(TOOLS)/controller-gen
HELM := $(TOOLS)/helm
CT := $(TOOLS)/ct
GOLANGCI_LINT := $(TOOLS)/golangci-lint

# The control plane for integration tests (envtest reads etcd and kube-apiserver from KUBEBUILDER_ASSETS).
export KUBEBUILDER_ASSETS := $(TOOLS)
export PATH := $(TOOLS):$(PATH)

.PHONY: help
help: ## Show the targets
	@awk 'BEGIN {FS = ":.*## "} /^##@/ {printf "\n%s\n", substr($$0, 5)} /^[a-zA-Z_-]+:.*## / {printf "  %-16s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

##@ Build

.PHONY: build
build: ## Build bin/mpcguard
	go build -trimpath -ldflags "$(VERSION_LDFLAGS)" -o bin/mpcguard ./cmd/mpcguard

.PHONY: tools
tools: ## Build the pinned tools (opa, controller-gen, control plane, kwok, kubectl, helm, ct) and install yamllint
	@$(BUILD_TOOL) opa controller-gen etcd kube-apiserver kube-controller-manager kube-scheduler kwok kubectl helm ct >/dev/null
	@command -v yamllint >/dev/null || { echo "==> installing yamllint (Debian)"; \
	  (apt-get update -qq && apt-get install -y -qq yamllint) >/dev/null; }

##@ Demo

.PHONY: demo
demo: tools build ## mpcguard end to end on a local Kubernetes control plane (KEEP=1 keeps it up until Ctrl-C)
	MPCGUARD_BIN=$(CURDIR)/bin/mpcguard go run ./test/demo $(if $(KEEP),--keep)

.PHONY: cluster
cluster: tools ## A bare local control plane with fake nodes, until Ctrl-C (prints its KUBECONFIG)
	go run ./test/cluster/cmd/localcluster up

##@ Generate and check

.PHONY: generate
generate: ## Regenerate deep-copy code, the MPCSession CRD and the checked-in charts
	@$(BUILD_TOOL) controller-gen >/dev/null
	$(CONTROLLER_GEN) object paths=./internal/api/...
	$(CONTROLLER_GEN) crd:crdVersions=v1 paths=./internal/api/... output:crd:dir=./internal/api/v1alpha1/crd
	go run ./cmd/mpcguard generate --preset default --output charts

.PHONY: verify
verify: generate ## Regenerate everything and fail if the checked-in files drift
	@git diff --exit-code -- internal/api charts || \
	  { echo "generated files drifted: run 'make generate' and commit the result" >&2; exit 1; }
	@test -z "$$(git status --porcelain -- internal/api charts)" || \
	  { git status --porcelain -- internal/api charts; echo "untracked generated files: commit them" >&2; exit 1; }

.PHONY: lint
lint: ## gofmt, go mod tidy, go vet, golangci-lint (.golangci.yml: default linters, depguard, errorlint), opa fmt and check
	@$(BUILD_TOOL) opa golangci-lint >/dev/null
	@out=$$(gofmt -l $$(git ls-files '*.go')); test -z "$$out" || { echo "gofmt needed:"; echo "$$out"; exit 1; }
	@go mod tidy -diff || { echo "go.mod/go.sum are not tidy: run 'go mod tidy'" >&2; exit 1; }
	go vet ./...
	$(GOLANGCI_LINT) run ./...
	$(OPA) fmt --fail --list policies/ test/bench/opa/
	$(OPA) check --strict policies/ test/bench/opa/

##@ Test

.PHONY: test
test: tools lint verify test-rego test-go test-charts test-fuzz ## Run every test (Rego; Go unit, integration and end-to-end on a local control plane, ct install; chart lint; bounded fuzzing)

.PHONY: test-rego
test-rego: ## opa test with line coverage (fails under 90%)
	$(OPA) test policies/ -v | tail -n 3
	@$(OPA) test policies/ --coverage --threshold 90 --format json > $(CACHE)/rego-coverage.json || \
	  { echo "Rego line coverage under 90%" >&2; exit 1; }
	@echo "Rego line coverage: $$(grep -o '"coverage": [0-9.]*' $(CACHE)/rego-coverage.json | tail -n 1 | cut -d' ' -f2)%"

.PHONY: test-go
test-go: build ## go test ./... (the integration tests start etcd + kube-apiserver from the cache)
	MPCGUARD_BIN=$(CURDIR)/bin/mpcguard go test $(GO_TEST_FLAGS) ./...

.PHONY: test-e2e
test-e2e: build ## Only the end-to-end tests on the local control plane, ct install included
	MPCGUARD_BIN=$(CURDIR)/bin/mpcguard go test $(GO_TEST_FLAGS) -v ./test/e2e

.PHONY: test-charts
test-charts: ## helm lint --strict both charts and ct lint
	$(HELM) lint --strict charts/mpc-system charts/mpcguard
	$(CT) lint --config ct.yaml --all

FUZZ_TIME ?= 15s

.PHONY: test-fuzz
test-fuzz: ## A bounded fuzzing run of the admission handler and of validate (FUZZ_TIME each)
	go test -run '^$$' -fuzz '^FuzzHandler$$' -fuzztime $(FUZZ_TIME) ./webhook/
	go test -run '^$$' -fuzz '^FuzzValidate$$' -fuzztime $(FUZZ_TIME) ./internal/validate/

.PHONY: bench
bench: bench-go bench-side bench-inventory bench-burst ## All benchmarks (~4 min, not part of test): Go, side by side with OPA, inventory at 10k pods, API server burst

.PHONY: bench-go
bench-go: ## Evaluator, handler and inventory benchmarks in Go's format (compare runs with benchstat)
	go test -run '^$$' -bench . -benchmem ./policies/engine/ ./webhook/

.PHONY: bench-side
bench-side: tools build ## mpcguard vs OPA's server (+ AdmissionReview wrapper) vs a no-op webhook, concurrency 1/16/64
	MPCGUARD_BIN=$(CURDIR)/bin/mpcguard go run ./test/bench/sidebyside

.PHONY: bench-inventory
bench-inventory: tools build ## Session admission latency with 10 and 10,000 party pods in the webhook's cache
	MPCGUARD_BIN=$(CURDIR)/bin/mpcguard go run ./test/bench/inventory

.PHONY: bench-burst
bench-burst: tools build ## 500 party pods and 1,000 MPCSessions through the API server: mpcguard vs a ValidatingAdmissionPolicy
	MPCGUARD_BIN=$(CURDIR)/bin/mpcguard go run ./test/bench/burst

.PHONY: clean
clean: ## Remove bin/ (the tool cache in $(CACHE) is kept)
	rm -rf bin

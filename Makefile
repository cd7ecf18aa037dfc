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
# bin/mpcguard without its symbol table and DWARF (-s -w), as the image's binary: 57 MB instead of 79 MB
# (go1.26, issue 16). Panics and profiles still name functions and lines (the pclntab stays), and `mpcguard
# version` still reads its build information; no test needs DWARF. `make build STRIP=` keeps both for dlv.
STRIP ?= -s -w

# Release: one version source, the git tag. CHART_VERSION is it without the "v" (SemVer), or 0.0.0-g<describe>
# when no tag is reachable; it is the charts' version and appVersion and the image tag.
CHART_VERSION := $(shell v='$(VERSION)'; v=$${v#v}; \
  if [[ $$v =~ ^[0-9]+\.[0-9]+\.[0-9]+ ]]; then echo "$$v"; else echo "0.0.0-g$$v"; fi)
SOURCE_DATE := $(shell git log -1 --format=%cI 2>/dev/null || echo 1970-01-01T00:00:00Z)
IMAGE_REPO ?= ghcr.io/mpcguard/mpcguard
IMAGE_PLATFORMS := linux/amd64 linux/arm64
IMAGE_DIR := bin/image
# test/tools/image, built per IMAGE_DIR so that concurrent builds never overwrite a running binary.
IMAGE_TOOL = $(IMAGE_DIR)/tools/mpcguard-image
# The image's go build; the Dockerfile runs the same command (test/release compares them).
IMAGE_GO_BUILD := CGO_ENABLED=0 go build -trimpath -buildvcs=false -ldflags "-s -w -buildid= -X main.version=$(VERSION) -X main.commit=$(COMMIT)"
REGISTRY ?=

OPA := $(TOOLS)/opa
CONTROLLER_GEN := $(TOOLS)/controller-gen
HELM := $(TOOLS)/helm
CT := $(TOOLS)/ct
GOLANGCI_LINT := $(TOOLS)/golangci-lint
# From Debian: yamllint for ct lint; runc, the CNI plugins, iptables (and nftables) and conntrack for the real node.
DEBIAN_PACKAGES := yamllint runc containernetworking-plugins iptables nftables conntrack

# The control plane for integration tests (envtest reads etcd and kube-apiserver from KUBEBUILDER_ASSETS).
export KUBEBUILDER_ASSETS := $(TOOLS)
export PATH := $(TOOLS):$(PATH)

.PHONY: help
help: ## Show the targets
	@awk 'BEGIN {FS = ":.*## "} /^##@/ {printf "\n%s\n", substr($$0, 5)} /^[a-zA-Z_-]+:.*## / {printf "  %-16s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

##@ Build

.PHONY: build
build: ## Build bin/mpcguard (stripped as the image's is; STRIP= keeps the symbol table and DWARF, for a debugger)
	go build -trimpath -ldflags "$(STRIP) $(VERSION_LDFLAGS)" -o bin/mpcguard ./cmd/mpcguard

.PHONY: tools
tools: ## Build the pinned tools (opa, controller-gen, control plane, real node, kwok, kubectl, helm, ct, registry, cosign, cyclonedx-gomod) and install Debian's
	@$(BUILD_TOOL) opa controller-gen etcd kube-apiserver kube-controller-manager kube-scheduler kwok kubectl helm ct \
	  registry cosign cyclonedx-gomod kubelet kube-proxy containerd ctr containerd-shim-runc-v2 >/dev/null
	@missing=""; for p in $(DEBIAN_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then echo "==> installing Debian packages:$$missing"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing) >/dev/null; fi

.PHONY: image
image: ## OCI image index (linux/amd64, linux/arm64) of mpcguard in bin/image/oci, reproducible, and its CycloneDX SBOM
	@$(BUILD_TOOL) cyclonedx-gomod >/dev/null
	@for p in $(IMAGE_PLATFORMS); do \
	  GOOS=$${p%/*} GOARCH=$${p#*/} $(IMAGE_GO_BUILD) -o $(IMAGE_DIR)/$${p%/*}_$${p#*/}/mpcguard ./cmd/mpcguard; done
	@go build -C test/tools/image -o $(abspath $(IMAGE_TOOL)) .
	@$(IMAGE_TOOL) build --out $(IMAGE_DIR)/oci --tag $(CHART_VERSION) --version $(VERSION) --revision $(COMMIT) \
	  --created $(SOURCE_DATE) $(foreach p,$(IMAGE_PLATFORMS),--bin $(p)=$(IMAGE_DIR)/$(subst /,_,$(p))/mpcguard) \
	  > $(IMAGE_DIR)/digest
	@out=$$($(TOOLS)/cyclonedx-gomod app -json -licenses -noserial -main cmd/mpcguard -output $(IMAGE_DIR)/sbom.cdx.json . 2>&1) || \
	  { echo "$$out" >&2; exit 1; }
	@echo "$(IMAGE_REPO):$(CHART_VERSION)@$$(cat $(IMAGE_DIR)/digest) -> $(IMAGE_DIR)/oci (SBOM $(IMAGE_DIR)/sbom.cdx.json)"

RELEASE_DIR := bin/release
# Registries on the loopback interface are spoken to over plain HTTP (test/release runs one).
PLAIN_HTTP = $(if $(filter 127.0.0.1:% localhost:%,$(REGISTRY)),--plain-http)
COSIGN_FLAGS = --tlog-upload=false --yes $(if $(PLAIN_HTTP),--allow-http-registry)

.PHONY: publish
publish: image build ## Push image, SBOM, charts (image pinned by digest) to REGISTRY=host:port; COSIGN_KEY signs
	@test -n "$(REGISTRY)" || { echo "publish needs REGISTRY=host[:port]" >&2; exit 1; }
	@$(BUILD_TOOL) helm $(if $(COSIGN_KEY),cosign) >/dev/null
	@rm -rf $(RELEASE_DIR) && mkdir -p $(RELEASE_DIR)
	@repo=$(REGISTRY)/mpcguard/mpcguard; charts=$(REGISTRY)/mpcguard/charts; out=$(RELEASE_DIR)/published.txt; \
	digest=$$($(IMAGE_TOOL) push --layout $(IMAGE_DIR)/oci --ref $$repo:$(CHART_VERSION)); \
	echo "image $$repo $(CHART_VERSION) $$digest" >> $$out; \
	sbom=$$($(IMAGE_TOOL) push-sbom --sbom $(IMAGE_DIR)/sbom.cdx.json --subject $$repo@$$digest --ref $$repo:$(CHART_VERSION).sbom); \
	echo "sbom $$repo $(CHART_VERSION).sbom $$sbom" >> $$out; \
	bin/mpcguard generate --preset default --output $(RELEASE_DIR)/charts --release $(CHART_VERSION) \
	  --webhook-image $$repo@$$digest >/dev/null; \
	for c in mpcguard mpc-system; do \
	  $(HELM) package $(RELEASE_DIR)/charts/$$c -d $(RELEASE_DIR) >/dev/null; \
	  cd=$$($(HELM) push $(RELEASE_DIR)/$$c-$(CHART_VERSION).tgz oci://$$charts $(PLAIN_HTTP) 2>&1 | sed -n 's/^Digest: //p'); \
	  test -n "$$cd" || { echo "helm push $$c failed" >&2; exit 1; }; \
	  echo "chart $$charts/$$c $(CHART_VERSION) $$cd" >> $$out; \
	done; \
	if [ -n "$(COSIGN_KEY)" ]; then \
	  for ref in $$(awk '$$1 != "sbom" {print $$2 "@" $$4}' $$out); do \
	    COSIGN_PASSWORD=$${COSIGN_PASSWORD-} $(TOOLS)/cosign sign --key $(COSIGN_KEY) $(COSIGN_FLAGS) $$ref >&2; \
	  done; \
	  COSIGN_PASSWORD=$${COSIGN_PASSWORD-} $(TOOLS)/cosign attest --key $(COSIGN_KEY) $(COSIGN_FLAGS) \
	    --type cyclonedx --predicate $(IMAGE_DIR)/sbom.cdx.json $$repo@$$digest >&2; \
	fi; \
	cat $$out

##@ Demo

.PHONY: demo
demo: tools build ## As a user installs it: publish to a local registry, helm install from it on a real node (root; KEEP=1 stays up until Ctrl-C)
	go run ./test/demo $(if $(KEEP),--keep)

.PHONY: cluster
cluster: tools ## A bare local control plane with fake nodes, until Ctrl-C (prints its KUBECONFIG)
	go run ./test/cluster/cmd/localcluster up

##@ Generate and check

.PHONY: generate
generate: ## Regenerate deep-copy code, the MPCSession CRD and the checked-in charts
	@$(BUILD_TOOL) controller-gen >/dev/null
	$(CONTROLLER_GEN) object paths=./internal/api/...
	$(CONTROLLER_GEN) crd:crdVersions=v1 paths=./internal/api/... output:crd:dir=./internal/api/v1alpha1/crd
	cd generator && go generate .
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
test: tools lint verify test-rego test-suite test-go test-charts test-fuzz ## Run every test (Rego; policy suites; Go unit, integration and end-to-end on a local control plane, ct install; chart lint; bounded fuzzing)

.PHONY: test-rego
test-rego: ## opa test with line coverage (fails under 90%)
	$(OPA) test policies/ -v | tail -n 3
	@$(OPA) test policies/ --coverage --threshold 90 --format json > $(CACHE)/rego-coverage.json || \
	  { echo "Rego line coverage under 90%" >&2; exit 1; }
	@echo "Rego line coverage: $$(grep -o '"coverage": [0-9.]*' $(CACHE)/rego-coverage.json | tail -n 1 | cut -d' ' -f2)%"

.PHONY: test-suite
test-suite: build ## mpcguard test: the embedded policies' own suite (internal/suite/builtin), and the guide's custom policy (opa test, mpcguard test)
	bin/mpcguard test
	@$(BUILD_TOOL) opa >/dev/null
	$(OPA) check --strict internal/suite/testdata/custom/policies/
	$(OPA) test internal/suite/testdata/custom/policies/
	bin/mpcguard test internal/suite/testdata/custom

.PHONY: test-go
test-go: build ## go test ./... (the integration tests start etcd + kube-apiserver from the cache)
	MPCGUARD_BIN=$(CURDIR)/bin/mpcguard go test $(GO_TEST_FLAGS) ./...

.PHONY: test-e2e
test-e2e: build ## Only the end-to-end tests on the local control plane, ct install included
	MPCGUARD_BIN=$(CURDIR)/bin/mpcguard go test $(GO_TEST_FLAGS) -v ./test/e2e

.PHONY: test-release
test-release: tools build ## Only the release test: make image twice, a loopback registry, make publish, cosign, install from oci://
	MPCGUARD_BIN=$(CURDIR)/bin/mpcguard go test $(GO_TEST_FLAGS) -v ./test/release

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
bench: bench-go bench-validate bench-side bench-inventory bench-burst ## All benchmarks (~4 min, not part of test): Go, validate at 1k/10k/60k documents, side by side with OPA, inventory at 10k pods, API server burst

.PHONY: cel-cost
cel-cost: ## Print each native policy's CEL cost (static estimate; actual on a typical and a large object) against the API server's limits
	MPCGUARD_CEL_WORST_CASE=1 go test ./policies/native/ -run CELCost -count=1 -v -timeout 30m

.PHONY: bench-go
bench-go: ## Evaluator, handler and inventory benchmarks in Go's format (compare runs with benchstat)
	go test -run '^$$' -bench . -benchmem ./policies/engine/ ./webhook/

.PHONY: bench-validate
bench-validate: ## mpcguard validate over 1k, 10k and 60k generated documents (linear time; ~20 s)
	go test -run '^$$' -bench '^BenchmarkBytes$$' -benchtime 1x -benchmem ./internal/validate/

.PHONY: bench-side
bench-side: tools build ## mpcguard (memoised; uncached) vs OPA's server (rules on input.request; modules + wrapper) vs the TLS floor vs a no-op, concurrency 1/16/64, both mpcguards also at 4/256
	MPCGUARD_BIN=$(CURDIR)/bin/mpcguard go run ./test/bench/sidebyside --concurrency 1,16,64 --scaling 4,256 \
	  --scaling-servers mpcguard,mpcguard-uncached

.PHONY: bench-incluster
bench-incluster: tools ## Needs root; not in bench or test: the chart's 2 webhook replicas on the real node behind their Service, req/s and p99 at 1-256 clients, one pod at 64
	go run ./test/bench/incluster

.PHONY: bench-inventory
bench-inventory: tools build ## Session admission latency with 10 and 10,000 party pods in the webhook's cache
	MPCGUARD_BIN=$(CURDIR)/bin/mpcguard go run ./test/bench/inventory

.PHONY: bench-burst
bench-burst: tools build ## 500 party pods and 1,000 MPCSessions through the API server: mpcguard vs a ValidatingAdmissionPolicy
	MPCGUARD_BIN=$(CURDIR)/bin/mpcguard go run ./test/bench/burst

.PHONY: clean
clean: ## Remove bin/ (the tool cache in $(CACHE) is kept)
	rm -rf bin

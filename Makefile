# Speculators for Swift. `make serve` and `make test` do all set-up on a fresh Debian machine.
SWIFT ?= swift
HOST ?= 127.0.0.1
PORT ?= 8000
BIN = .build/release/speculators

.PHONY: deps models build serve test bench bench-serve draft draft-budget interop parity fuzz clean

deps: ## system packages: OpenBLAS and zlib headers (apt, only when missing)
	@missing=""; for p in libopenblas-dev zlib1g-dev; do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then echo "deps: apt-get install$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	else echo "deps: libopenblas-dev zlib1g-dev are installed"; fi

models: ## the default verifier (GGUF) and benchmark prompts, sha256-checked
	@scripts/fetch-models.sh

build: deps
	$(SWIFT) build -c release --product speculators

serve: deps models build
	$(BIN) serve --config config/server.json --host $(HOST) --port $(PORT)

test: deps models
	scripts/test.sh

DRAFT ?= assets/drafts/smollm2-135m-eagle3
REFERENCE_DRAFT ?= assets/drafts/smollm2-135m-eagle3-ref

bench: deps models build ## speed and acceptance, printed as same-run ratios (about an hour and three quarters)
	$(BIN) bench verifier
	$(BIN) bench train
	$(BIN) bench spec --speculator $(DRAFT) --compare $(REFERENCE_DRAFT) --k 1,3,5 --batch 1,8 --adaptive
	$(BIN) bench spec --speculator $(DRAFT) --compare $(REFERENCE_DRAFT) --prompts data/humaneval.jsonl --limit 40 --raw --k 3 --batch 1
	$(BIN) bench spec --speculator $(DRAFT) --quantized-weights --k 1,3 --batch 1,8 --adaptive

bench-serve: deps models build ## the same client load without and with the draft, alternating rounds
	scripts/bench-serve-compare.sh

draft: deps models build ## reproduce the default SmolLM2 draft (datagen, vocab, train); resumable
	scripts/make-draft.sh

draft-budget: build ## the reference draft's budget (193,670 tokens, 20 min) on make draft's data, benched against it
	scripts/make-budget-draft.sh

interop: build ## optional: the Python speculators library reads what we write (needs torch + speculators)
	python3 scripts/interop/configs_roundtrip.py --binary $(BIN)

VERIFIER ?= models/SmolLM2-135M-Instruct.Q4_1.gguf

parity: models build ## optional: SmolLM2 against transformers on held-out prompts (needs torch, transformers, accelerate, gguf)
	python3 scripts/parity/reference.py --gguf $(VERIFIER) --tokenizer Tests/TokenizersTests/Fixtures/smollm2-hf \
	  --output runs/parity/reference.json
	python3 scripts/parity/compare.py --binary $(BIN) --model $(VERIFIER) --speculator $(DRAFT) --reference runs/parity/reference.json
	python3 scripts/parity/tokenizer.py --binary $(BIN) --model $(VERIFIER) --tokenizer Tests/TokenizersTests/Fixtures/smollm2-hf

FUZZ_SECONDS ?= 60

fuzz: deps build ## optional: libFuzzer + address sanitizer on every reader of untrusted bytes, FUZZ_SECONDS per harness
	scripts/fuzz/run.sh $(FUZZ_SECONDS)

clean:
	rm -rf .build .build-fuzz

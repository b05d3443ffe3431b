# Peer stream processors (Quix Streams, Bytewax) for bench/features_peers.py,
# in a venv of their own (.venv-peers) so .venv needs none of their packages.
# Not part of `make setup`: run `make setup-peers` before the benchmark.
VENV_PEERS := .venv-peers

.PHONY: setup-peers

setup-peers: $(VENV_PEERS)/.stamp ## Quix Streams + Bytewax venv for bench/features_peers.py

$(VENV_PEERS)/.stamp: requirements/peers.in
	test -x $(VENV_PEERS)/bin/python || $(PYTHON) -m venv $(VENV_PEERS)
	$(VENV_PEERS)/bin/pip install $(PIP_FLAGS) -U pip wheel
	$(VENV_PEERS)/bin/pip install $(PIP_FLAGS) -r requirements/peers.in
	touch $@

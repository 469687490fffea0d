#!/bin/sh
# The model check can fail: each protocol bug injected into the model
# (check-model.sh --list names them) must be caught by spin.
exec "$(dirname "$0")/check-model.sh" --self-test

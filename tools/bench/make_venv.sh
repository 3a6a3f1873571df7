#!/bin/sh
# Makes the virtual environment of the benchmark baselines (PyTorch 2.x from PyPI, ONNX Runtime,
# OpenVINO): tools only, not part of setup.sh or CI.
#   tools/bench/make_venv.sh [VENV]     (default /work/.venv-bench)
# then pass VENV/bin/python to compare.py's --torch_python and --onnx_python.
set -eu
venv="${1:-/work/.venv-bench}"
here="$(dirname "$0")"
/usr/bin/python3 -m venv "$venv"
"$venv/bin/pip" install --upgrade pip
"$venv/bin/pip" install -r "$here/requirements.txt"
"$venv/bin/python" -c 'import torch, onnx, onnxruntime, openvino; print("torch", torch.__version__, "onnx", onnx.__version__, "onnxruntime", onnxruntime.__version__, "openvino", openvino.__version__)'

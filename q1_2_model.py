"""Question 1.2.1: the ConvNet's layers, their output shapes and parameter counts.

    python q1_2_model.py
"""
import argparse
import time

import torch

from common import cli
from common.model import ConvNet, count_params, layer_table

SCRIPT = "q1_2_model"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--out", default="figures", help="where the JSON goes")
    parser.add_argument("--activation", default="relu", choices=["relu", "gelu"])
    parser.add_argument("--dropout", type=cli.unit_interval, default=0.0)
    parser.add_argument("--quick", action="store_true", help="accepted for symmetry: this script is always quick")
    args = cli.parse(parser)
    started = time.perf_counter()
    model = ConvNet(args.dropout, args.activation)
    rows = layer_table(model)
    print(f"1.2.1 the ConvNet ({args.activation}, dropout {args.dropout}), input 3 x 32 x 32:")
    print(f"  {'layer':<10} {'type':<10} {'output shape':<16} {'parameters':>10}")
    for row in rows:
        print(f"  {row['name']:<10} {row['type']:<10} {' x '.join(map(str, row['output_shape'])):<16} {row['params']:>10,}")
    total = count_params(model)
    print(f"  total parameters: {total:,}")
    path = cli.write_json(args, SCRIPT, torch.device("cpu"), None,
                          {"layers": rows, "total_params": total}, [], started)
    print(f"wrote {path}")


if __name__ == "__main__":
    cli.run(main)

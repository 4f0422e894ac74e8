"""Question 1.2.1: the ConvNet's layers, their output shapes and parameter counts.

    python q1_2_model.py
"""
import time

from common import cli
from common.reporting.page import refresh_reports

SCRIPT = "q1_2_model"


def main():
    # The model needs no data, and its table is computed on the CPU: the common flags are
    # accepted (one command line fits every script) but not offered.
    parser = cli.base_parser(__doc__, reads_data=False)
    parser.add_argument("--activation", default="relu", choices=["relu", "gelu"])
    parser.add_argument("--dropout", type=cli.unit_interval, default=0.0)
    place = cli.TRAIN_FIELDS["dropout_after"]
    parser.add_argument("--dropout-after", default=place.default, choices=place.metadata["choices"],
                        help=place.metadata["help"])
    args = cli.parse(parser)
    # Heavy imports after parsing: --help answers at once.
    import torch
    from common.model import ConvNet, count_params, layer_table
    from common.results import NO_DATA, write_record
    started = time.perf_counter()
    model = ConvNet(args.dropout, args.activation, dropout_after=args.dropout_after)
    rows = layer_table(model)
    print(
        f"1.2.1 the ConvNet ({args.activation}, dropout {args.dropout} after "
        f"{args.dropout_after.replace('_', ' ')}), "
        f"input 3 x 32 x 32:"
    )
    print(f"  {'layer':<10} {'type':<10} {'output shape':<16} {'parameters':>10}")
    for row in rows:
        print(
            f"  {row['name']:<10} {row['type']:<10} {' x '.join(map(str, row['output_shape'])):<16} "
            f"{row['params']:>10,}"
        )
    total = count_params(model)
    print(f"  total parameters: {total:,}")
    path = write_record(
        args, SCRIPT, torch.device("cpu"), NO_DATA, {"layers": rows, "total_params": total}, [], started
    )
    print(f"wrote {path}")
    return args.out


if __name__ == "__main__":
    cli.run(main, then=refresh_reports)

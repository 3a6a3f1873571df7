#!/usr/bin/env python3
"""Prints the scalars of a TensorBoard log directory as read by the real `tensorboard` package.

For checking bitgrad's events files (train/tensorboard.h) by hand; tests never run this.

    /work/.venv-tb/bin/python tools/tensorboard/read_events.py LOG_DIR

Prints one line per scalar, "tag step value" (value as %.9g, which round-trips a float32),
sorted by tag, then step. Use --wall-time to add each event's wall time.
"""

import argparse
import sys

from tensorboard.backend.event_processing import event_accumulator


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("log_dir", help="directory holding events.out.tfevents.* files")
    parser.add_argument("--wall-time", action="store_true", help="also print wall times")
    args = parser.parse_args()

    # size_guidance 0 keeps every event (the default samples at most 10000 scalars a tag).
    accumulator = event_accumulator.EventAccumulator(
        args.log_dir, size_guidance={event_accumulator.SCALARS: 0})
    accumulator.Reload()
    tags = sorted(accumulator.Tags()["scalars"])
    if not tags:
        sys.exit(f"no scalars found in {args.log_dir}")
    for tag in tags:
        # Same step twice: sort keeps the file's order, so the later value prints last.
        for event in sorted(accumulator.Scalars(tag), key=lambda e: e.step):
            line = f"{tag} {event.step} {event.value:.9g}"
            if args.wall_time:
                line += f" {event.wall_time:.6f}"
            print(line)


if __name__ == "__main__":
    main()

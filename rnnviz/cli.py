"""Command line (placeholder until the trainer lands)."""


def main(argv=None) -> int:
    print("rnnviz: under construction")
    return 0

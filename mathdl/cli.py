"""The ``mathdl`` command (filled in by the training stack)."""


def main(argv=None):  # pragma: no cover - placeholder until the training issue lands
    print("mathdl: no sub-commands yet")
    return 0

"""Plotting for run reports: matplotlib on its non-interactive backend (experiments run headless)."""


def pyplot():
    """``matplotlib.pyplot`` with the Agg backend selected, imported only when a report draws."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt

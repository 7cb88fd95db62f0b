"""Plotting for run reports: matplotlib on its non-interactive backend (experiments run headless)."""


def pyplot():
    """``matplotlib.pyplot`` with the Agg backend selected, imported only when a report draws."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def heatmap(ax, values, x_labels, y_labels, *, label: str, vmin: float, vmax: float, cmap: str = "viridis",
            annotate: bool = True, fmt: str = "{:.2f}"):  # fmt: skip
    """A labelled heat map: one tick per row and column (named, never fractional), the colour scale in a bar
    beside it named ``label``, and each cell's value written in it when the grid is small enough to read."""
    import numpy as np

    values = np.asarray(values, dtype=float)
    image = ax.imshow(values, aspect="auto", cmap=cmap, vmin=vmin, vmax=vmax)
    ax.set_xticks(range(values.shape[1]), [str(x) for x in x_labels])
    ax.set_yticks(range(values.shape[0]), [str(y) for y in y_labels])
    if annotate and values.size <= 150:
        middle = (vmin + vmax) / 2
        for (row, column), value in np.ndenumerate(values):
            ax.text(column, row, fmt.format(value), ha="center", va="center", fontsize=8,
                    color="black" if value > middle else "white")  # fmt: skip
    ax.figure.colorbar(image, ax=ax, label=label, fraction=0.046, pad=0.02)
    return image

"""A contact sheet: decoded frames as a grid of thumbnails, each with two label lines."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

__all__ = ["ContactSheet"]


class ContactSheet:
    """Collects thumbnails one frame at a time; `render` draws the labelled grid.

    Only the thumbnails are kept (``cell_width`` wide, the frame's aspect ratio), so a
    sheet of many frames holds far less than the frames. Labels use Pillow's default font.

    Args:
        cell_width: Width of each thumbnail in pixels.
        columns: Thumbnails per row; by default about as many as rows (``ceil(sqrt(n))``).

    Raises:
        ValueError: `cell_width` or `columns` is less than 1.
    """

    LABEL_HEIGHT = 28
    """Pixels under each thumbnail for its two label lines."""

    def __init__(self, cell_width: int = 320, columns: int | None = None) -> None:
        if cell_width < 1 or (columns is not None and columns < 1):
            raise ValueError(
                f"cell_width and columns must be at least 1, got {cell_width}, {columns}"
            )
        self.cell_width, self.columns = cell_width, columns
        self._cells: list[tuple[Any, tuple[str, ...]]] = []

    def __len__(self) -> int:
        return len(self._cells)

    def add(self, frame: Any, labels: Sequence[str]) -> None:
        """Add a ``(H, W, 3)`` uint8 RGB frame (or a PIL image) with up to two label lines."""
        from PIL import Image

        picture = frame if isinstance(frame, Image.Image) else Image.fromarray(frame)
        w, h = picture.size
        size = (self.cell_width, max(1, round(h * self.cell_width / w)))
        self._cells.append(
            (picture.convert("RGB").resize(size, Image.Resampling.BILINEAR), tuple(labels))
        )

    def size(self) -> tuple[int, int]:
        """Return the ``(width, height)`` of the sheet as it would be rendered now."""
        n = len(self._cells)
        columns = self._columns()
        rows = max(1, math.ceil(n / columns))
        cell_h = max((t.size[1] for t, _ in self._cells), default=0) + self.LABEL_HEIGHT
        return min(columns, max(n, 1)) * self.cell_width, rows * cell_h

    def _columns(self) -> int:
        return self.columns or max(1, math.ceil(math.sqrt(len(self._cells))))

    def render(self) -> Any:
        """Return the sheet as a ``PIL.Image.Image`` (RGB, white background)."""
        from PIL import Image, ImageDraw, ImageFont

        sheet = Image.new("RGB", self.size(), "white")
        draw = ImageDraw.Draw(sheet)
        font = ImageFont.load_default()
        columns = self._columns()
        cell_h = sheet.size[1] // max(1, math.ceil(len(self._cells) / columns))
        for i, (thumb, labels) in enumerate(self._cells):
            x, y = (i % columns) * self.cell_width, (i // columns) * cell_h
            sheet.paste(thumb, (x, y))
            for k, line in enumerate(labels[:2]):
                text = _fit(draw, line, font, self.cell_width - 4)
                draw.text((x + 2, y + thumb.size[1] + 2 + 13 * k), text, fill="black", font=font)
        return sheet


def _fit(draw: Any, text: str, font: Any, width: int) -> str:
    """Shorten `text` from the left until it fits `width` pixels."""
    if draw.textlength(text, font=font) <= width:
        return text
    lo, hi = 0, len(text)
    while lo < hi:  # the fewest characters to cut
        mid = (lo + hi) // 2
        if draw.textlength("..." + text[mid:], font=font) <= width:
            hi = mid
        else:
            lo = mid + 1
    return "..." + text[lo:]

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from mediaref_pil import ContactSheet


def test_sheet_is_a_grid_of_thumbnails_with_labels() -> None:
    sheet = ContactSheet(cell_width=50, columns=2)
    frames = [np.full((20, 100, 3), 40 * i, np.uint8) for i in range(3)]
    for i, frame in enumerate(frames):
        sheet.add(frame, [f"a/very/long/path/to/the/video/number/{i}.mp4", f"{i}.000000000 s"])
    assert len(sheet) == 3
    assert sheet.size() == (100, 2 * (10 + ContactSheet.LABEL_HEIGHT))
    grid = np.asarray(sheet.render())
    assert grid.shape == (76, 100, 3)
    np.testing.assert_array_equal(grid[38:48, 0:50], np.full((10, 50, 3), 80, np.uint8))
    assert (grid[10:38, 0:50] < 128).any()  # the label is drawn
    assert (grid[48:, 50:] == 255).all()  # the empty cell stays white


def test_sheet_takes_pil_images_and_refuses_a_zero_width() -> None:
    sheet = ContactSheet(cell_width=30)
    sheet.add(Image.new("RGBA", (60, 30), (10, 20, 30, 255)), ["x.png", "image"])
    assert sheet.render().size == (30, 15 + ContactSheet.LABEL_HEIGHT)
    with pytest.raises(ValueError, match="at least 1"):
        ContactSheet(cell_width=0)

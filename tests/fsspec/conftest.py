from tests.av.conftest import clip_factory

__all__ = ["clip_factory"]

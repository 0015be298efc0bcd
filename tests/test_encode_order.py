"""Batch encoding: distinct texts once, cached vectors reused, and batches formed by the encoder's own lengths."""
import numpy as np

from embeddings.encoders.cache import EmbeddingCache, encode_all
from embeddings.encoders.stub import StubEncoder


class CountingEncoder(StubEncoder):
    """The stub, with 'tokens' that disagree with character length, recording the batches it was given."""

    def __init__(self):
        super().__init__(8)
        self.batches: list[list[str]] = []

    def token_counts(self, texts):
        return [len(t.split()) for t in texts]

    def encode(self, texts):
        self.batches.append(list(texts))
        return super().encode(texts)


def test_batches_follow_token_counts_longest_first_and_each_text_is_encoded_once():
    texts = ["a b c d e f", "abcdefghijklmnopqrstuvwxyz", "a b c d e f", "x y", "longish words here", "q"]
    encoder = CountingEncoder()
    vectors, encoded = encode_all(encoder, texts, None, batch_size=2)
    assert encoded == 5
    # By characters the 26-letter word would come first; by the encoder's counts it is one token.
    assert encoder.batches == [["a b c d e f", "longish words here"], ["x y", "abcdefghijklmnopqrstuvwxyz"], ["q"]]
    assert np.allclose(vectors[0], vectors[2]) and np.allclose(vectors, StubEncoder(8).encode(texts))


def test_an_encoder_without_token_counts_is_ordered_by_characters_and_the_cache_is_reused(tmp_path):
    encoder = StubEncoder(8)
    seen: list[list[str]] = []
    plain = encoder.encode
    encoder.encode = lambda texts: (seen.append(list(texts)), plain(texts))[1]  # type: ignore[method-assign]
    cache = EmbeddingCache(tmp_path, encoder.name, encoder.dim)
    first, encoded = encode_all(encoder, ["bb", "a", "ccc"], cache, batch_size=2)
    assert encoded == 3 and seen == [["ccc", "bb"], ["a"]]
    again, encoded = encode_all(encoder, ["a", "dddd", "ccc"], cache, batch_size=2)
    assert encoded == 1 and seen[-1] == ["dddd"]
    assert np.allclose(again[0], first[1]) and np.allclose(again[2], first[2])
    cache.close()

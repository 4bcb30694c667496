"""The metrics against values computed by hand."""

from __future__ import annotations

import math

import pytest

from engine.evaluation.metrics import bleu4, is_chinese, rouge_l, words


def test_rouge_l_is_the_longest_common_subsequence_f1():
    # LCS("the cat sat on the mat", "the cat is on the mat") = the cat on the mat = 5 of 6 words each side
    assert rouge_l("the cat sat on the mat", "the cat is on the mat") == pytest.approx(5 / 6)
    # 2 common words in order out of 3 (hypothesis) and 4 (reference): P 2/3, R 2/4, F = 2PR/(P+R) = 4/7
    assert rouge_l("Paris is big", "paris is the capital") == pytest.approx(4 / 7)
    assert rouge_l("", "anything") == 0.0


def test_rouge_l_segments_chinese_into_words():
    assert words("巴黎是法国的首都。") == ["巴黎", "是", "法国", "的", "首都"]
    # hypothesis 巴黎/是/首都 against 巴黎/是/法国/的/首都: LCS 3, P 3/3, R 3/5 → F = 2·1·0.6/1.6 = 0.75
    assert rouge_l("巴黎是首都", "巴黎是法国的首都") == pytest.approx(0.75)


def test_bleu4_matches_the_hand_computed_value():
    # clipped n-gram precisions 5/6, 3/5, 2/4, 1/3; equal lengths so no brevity penalty
    expected = 100 * math.exp((math.log(5 / 6) + math.log(3 / 5) + math.log(2 / 4) + math.log(1 / 3)) / 4)
    assert bleu4("the cat sat on the mat", "the cat sat on a mat") == pytest.approx(expected, abs=0.01)
    assert bleu4("the cat sat on the mat", "the cat sat on the mat") == pytest.approx(100.0)


def test_bleu4_uses_character_tokens_for_chinese():
    assert is_chinese("我是 TuneBot，由团队微调的助手。") and not is_chinese("I am TuneBot.")
    # sacrebleu's zh tokenizer splits Chinese characters: identical strings score 100, a changed one less
    assert bleu4("我是一个助手", "我是一个助手") == pytest.approx(100.0)
    assert 0 < bleu4("我是一个好助手", "我是一个助手") < 100

"""Question 1.4: the claims of q1_4_answers.md, shown in code."""
import re
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from common.model import ConvNet

torch.manual_seed(0)
LOGITS = torch.randn(8, 10) * 3


def test_softmax_is_a_probability_distribution():
    p = torch.softmax(LOGITS, dim=1)
    assert (p > 0).all()
    torch.testing.assert_close(p.sum(1), torch.ones(8))


def test_softmax_keeps_the_order():
    p = torch.softmax(LOGITS, dim=1)
    assert torch.equal(p.argsort(1), LOGITS.argsort(1))


def test_softmax_ignores_a_constant_shift():
    torch.testing.assert_close(torch.softmax(LOGITS + 100.0, 1), torch.softmax(LOGITS, 1))


def test_cross_entropy_applies_log_softmax_itself():
    y = torch.randint(0, 10, (8,))
    torch.testing.assert_close(nn.CrossEntropyLoss()(LOGITS, y), F.nll_loss(F.log_softmax(LOGITS, 1), y))
    # The model returns logits: no softmax layer inside it.
    assert not any(isinstance(m, nn.Softmax) for m in ConvNet().modules())


def test_softmax_twice_is_wrong():
    y = torch.zeros(8, dtype=torch.long)
    logits = LOGITS.clone().requires_grad_()
    F.cross_entropy(logits, y).backward()
    right = logits.grad.abs().sum()
    logits.grad = None
    F.cross_entropy(torch.softmax(logits, 1), y).backward()
    assert logits.grad.abs().sum() < right  # squashed gradients


def test_conv1d_on_a_time_series():
    recording = torch.randn(1, 3, 100)  # batch x channels (x, y, z) x time steps
    conv = nn.Conv1d(3, 8, kernel_size=5)
    out = conv(recording)
    assert out.shape == (1, 8, 96)
    # Output t is the same weighted sum of steps t..t+4 at every position.
    manual = (conv.weight[2] * recording[0, :, 40:45]).sum() + conv.bias[2]
    torch.testing.assert_close(out[0, 2, 40], manual)


def test_dropout_zeroes_activations_not_weights():
    layer, dropout = nn.Linear(100, 1000), nn.Dropout(0.5).train()
    weights = layer.weight.detach().clone()
    h = layer(torch.randn(4, 100)).abs() + 1  # nonzero activations
    out = dropout(h)
    assert 0.4 < (out == 0).float().mean() < 0.6  # about p of the activations are zeroed
    assert torch.equal(layer.weight, weights)


def test_dropout_scales_survivors_by_1_over_1_minus_p():
    p, x = 0.8, torch.ones(10000)
    out = nn.Dropout(p).train()(x)
    kept = out[out != 0]
    torch.testing.assert_close(kept, torch.full_like(kept, 1 / (1 - p)))
    assert abs(out.mean().item() - 1.0) < 0.1  # the expected value is kept


def test_dropout_is_the_identity_in_eval_mode():
    x = torch.randn(4, 3, 32, 32)
    assert torch.equal(nn.Dropout(0.5).eval()(x), x)
    # The report's net with dropout 0.8, in eval mode, is the same function as without dropout:
    # the same weights give the same logits, while in training mode they differ.
    with_dropout, without = ConvNet(dropout=0.8), ConvNet(dropout=0.0)
    without.load_state_dict(with_dropout.state_dict())
    assert torch.equal(with_dropout.eval()(x), without.eval()(x))
    torch.manual_seed(1)
    assert not torch.allclose(with_dropout.train()(x), without.train()(x))


# 1.4.2, the course sheet's questions (the report leaves 1.4.2 blank): momentum, and how
# convolutional and fully-connected layers use their parameters.

def _sgd_steps(momentum, grads, lr=0.1):
    w = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.SGD([w], lr=lr, momentum=momentum)
    path = []
    for g in grads:
        w.grad = torch.tensor([g])
        optimizer.step()
        path.append(w.item())
    return path


def test_momentum_is_a_running_velocity_of_gradients():
    grads, mu, lr = [1.0, -0.5, 2.0, 0.25], 0.9, 0.1
    w, v, by_hand = 0.0, 0.0, []
    for g in grads:
        v = mu * v + g
        w -= lr * v
        by_hand.append(w)
    assert _sgd_steps(mu, grads, lr) == pytest.approx(by_hand)


def test_zero_momentum_is_plain_sgd():
    grads = [1.0, -0.5, 2.0, 0.25]
    assert _sgd_steps(0.0, grads) == pytest.approx([-0.1, -0.05, -0.25, -0.275])


def test_a_steady_gradient_gives_steps_of_1_over_1_minus_mu():
    path = _sgd_steps(0.9, [1.0] * 200, lr=0.1)
    assert path[-1] - path[-2] == pytest.approx(-0.1 / (1 - 0.9), rel=1e-3)  # ten plain steps
    plain = _sgd_steps(0.0, [1.0] * 200, lr=0.1)
    assert plain[-1] - plain[-2] == pytest.approx(-0.1, rel=1e-4)


def _steps_to_the_minimum(momentum, lr=0.0018, limit=20000):
    """A long narrow valley: loss = (x^2 + 1000 y^2) / 2, steep across (y), shallow along (x)."""
    w = torch.tensor([10.0, 1.0], requires_grad=True)
    scale = torch.tensor([1.0, 1000.0])
    optimizer = torch.optim.SGD([w], lr=lr, momentum=momentum)
    for step in range(1, limit + 1):
        optimizer.zero_grad()
        loss = (scale * w ** 2).sum() / 2
        loss.backward()
        optimizer.step()
        if loss.item() < 1e-6:
            return step
    return limit


def test_momentum_crosses_a_narrow_valley_far_faster():
    plain, heavy = _steps_to_the_minimum(0.0), _steps_to_the_minimum(0.9)
    assert heavy * 5 < plain  # (here about 400 against nearly 5,000 steps)
    # Plain SGD cannot buy the speed with a larger step: past 2 / 1000 it diverges across the valley.
    assert _steps_to_the_minimum(0.0, lr=0.0021, limit=200) == 200


def test_a_conv_output_depends_only_on_its_3x3_neighbourhood():
    conv = nn.Conv2d(3, 32, 3, padding=1)
    x = torch.randn(1, 3, 32, 32, requires_grad=True)
    conv(x)[0, 5, 10, 20].backward()
    touched = x.grad[0].abs().sum(0).nonzero().tolist()
    assert sorted(touched) == [[r, c] for r in (9, 10, 11) for c in (19, 20, 21)]


def test_a_conv_layer_needs_a_hundred_thousandth_of_the_parameters():
    from common.model import count_params
    conv = nn.Conv2d(3, 32, 3, padding=1)
    assert count_params(conv) == 3 * 32 * 9 + 32 == 896
    dense_equivalent = 3 * 32 * 32 * (32 * 32 * 32) + 32 * 32 * 32  # every input to every output, biases
    assert dense_equivalent == 100_696_064
    # The conv's count does not depend on the image size; the dense layer's grows with its square.
    assert conv(torch.randn(1, 3, 64, 64)).shape == (1, 32, 64, 64)


def test_the_reports_convnet_keeps_most_parameters_in_fc1():
    from common.model import layer_table
    rows = {r["name"]: r["params"] for r in layer_table(ConvNet())}
    convs = sum(v for k, v in rows.items() if k.startswith("conv"))
    assert convs == 65_568 and rows["fc1"] == 2_097_664
    assert round(100 * convs / 2_168_362) == 3 and round(100 * rows["fc1"] / 2_168_362) == 97


def test_a_conv_layer_is_translation_equivariant():
    conv = nn.Conv2d(3, 8, 3, padding=1)
    x = torch.randn(1, 3, 32, 32)
    shifted = torch.roll(x, shifts=(2, 3), dims=(2, 3))
    # Away from the borders (where padding meets the wrapped pixels) the output shifts with the input.
    a = torch.roll(conv(x), shifts=(2, 3), dims=(2, 3))[..., 4:-4, 4:-4]
    torch.testing.assert_close(conv(shifted)[..., 4:-4, 4:-4], a)


ANSWERS = (Path(__file__).resolve().parent.parent / "q1_4_answers.md").read_text()


def test_every_claim_in_the_answers_names_a_test_here():
    named = set(re.findall(r"\[`(test_\w+)`\]", ANSWERS))
    here = {name for name in globals() if name.startswith("test_")}
    assert named and named <= here, named - here


def _sentences(paragraph):
    return len(re.findall(r"[.!?](?:\s|$)", " ".join(paragraph.split())))


def answers():
    """{question: [its answer's paragraphs]}: the paragraphs under each 1.4 heading that answer
    it, without the sheet's question in bold and without the critique of the report's answer."""
    found = {}
    for section in ANSWERS.split("\n## ")[1:]:
        heading, *paragraphs = section.split("\n\n")
        kept = [re.sub(r"^\*\*[^*]+\*\* ", "", p) for p in paragraphs
                if not p.startswith(("The report's answer", "The report has no"))]
        found[heading.split()[0]] = kept
    return found


def test_each_answer_is_in_the_sheets_two_or_three_sentences():
    found = answers()
    assert sorted(found) == ["1.4.1", "1.4.2", "1.4.3", "1.4.4"]
    assert len(found["1.4.2"]) == 2  # the sheet's two questions
    for question, paragraphs in found.items():
        for paragraph in paragraphs:
            assert 2 <= _sentences(paragraph) <= 3, (question, paragraph[:60])


def test_the_critique_of_the_reports_1d_answer_says_it_names_one_kind_of_data_of_two():
    critique = ANSWERS.split("## 1.4.3")[1].split("## 1.4.4")[0]
    assert "one kind of data" in critique and "two" in critique


def test_the_grading_tables_1_4_rows_quote_the_report_and_follow_the_answers():
    """Each 1.4 row's question is a heading of q1_4_answers.md, and its report cell is the report's
    own words (each quoted piece found in the report's text), or says the report left it blank."""
    from common.reporting.grading import ANSWERS as ROWS
    report = REPO_ROOT.parent / "shared" / "seed" / "assignment2_report.txt"
    headings = re.findall(r"^## (1\.4\.\d)", ANSWERS, re.M)
    assert [row[0] for row in ROWS] == headings == ["1.4.1", "1.4.2", "1.4.3", "1.4.4"]
    if not report.is_file():
        pytest.skip(f"{report} is not here: the report's text comes with ../shared beside the clone")
    text = " ".join(report.read_text().split())
    for question, _, said, _, _ in ROWS:
        quoted = [piece for quote in re.findall(r'"([^"]+)"', said) for piece in quote.split(" ... ")]
        assert quoted or said == "left blank", question
        assert all(piece in text for piece in quoted), question


REPO_ROOT = Path(__file__).resolve().parent.parent

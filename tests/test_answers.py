"""Question 1.4: the claims of q1_4_answers.md, shown in code."""
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
    model = ConvNet(dropout=0.5).eval()
    assert torch.equal(nn.Dropout(0.5).eval()(x), x)
    assert torch.equal(model(x), model(x))

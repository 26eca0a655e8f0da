"""Every registered model: forward pass at its input size, a usable CAM layer, registry rules."""

from __future__ import annotations

import pytest
import torch

from synthcheck.models import create_model, get_model_cfg, list_models, register_model
from synthcheck.models._registry import ModelCfg
from synthcheck.models.timm_zoo import lite0_weights_path, map_lite0_state_dict


@pytest.mark.parametrize("name", list_models())
def test_forward_and_cam_layer(name):
    torch.manual_seed(0)
    model = create_model(name).eval()
    cfg = get_model_cfg(name)
    x = torch.randn(2, 3, cfg.input_size, cfg.input_size)
    seen = {}
    handle = model.get_submodule(cfg.cam_layer).register_forward_hook(
        lambda m, i, o: seen.__setitem__("shape", tuple(o.shape)))
    with torch.no_grad():
        out = model(x)
    handle.remove()
    assert out.shape == (2, 2) and torch.isfinite(out).all()
    assert seen["shape"][-1] > 1 and seen["shape"][-2] > 1, "Grad-CAM needs a map wider than 1x1"


def test_unknown_model_and_duplicate_registration():
    with pytest.raises(RuntimeError, match="unknown model"):
        create_model("no_such_net")
    with pytest.raises(ValueError, match="already registered"):
        @register_model(ModelCfg())
        def synthcnn(pretrained=False, num_classes=2):  # noqa: ARG001
            return torch.nn.Identity()


def test_none_kwargs_are_dropped():
    model = create_model("synthcnn_small", drop_rate=None)
    assert model.drop.p == 0.1


def test_lite0_imagenet_weights_map_onto_timm():
    src = torch.load(lite0_weights_path(), map_location="cpu", weights_only=True)
    model = create_model("efficientnet_lite0", pretrained=True)
    assert torch.equal(model.conv_stem.weight, src["_conv_stem.weight"])
    assert model.classifier.out_features == 2
    broken = dict(src)
    broken["_conv_stem.weight"] = torch.zeros(1)
    with pytest.raises(ValueError, match="cannot map"):
        map_lite0_state_dict(broken, create_model("efficientnet_lite0").state_dict())


def test_freeze_backbone_trains_only_the_classifier():
    model = create_model("efficientnet_lite0", pretrained=True, freeze_backbone=True)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {"classifier.weight", "classifier.bias"}

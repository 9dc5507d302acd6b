"""The OCI image layouts tests/image/build writes, read as a runtime reads them: from a tag to the
manifest of one platform, and from a descriptor to its blob. Used by tests/image/build and
tests/image/test."""

import json


def blob_path(layout, descriptor):
    """The file that holds the blob a descriptor names."""
    algorithm, digest = descriptor["digest"].split(":")
    return f"{layout}/blobs/{algorithm}/{digest}"


def manifest(layout, tag, arch):
    """The manifest that `tag` names in `layout`; for an image index, its manifest for linux/arch."""
    [tagged] = [m for m in json.load(open(f"{layout}/index.json"))["manifests"]
                if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag]
    found = json.load(open(blob_path(layout, tagged)))
    if "manifests" in found:
        [platform] = [m for m in found["manifests"] if m["platform"]["architecture"] == arch]
        found = json.load(open(blob_path(layout, platform)))
    return found

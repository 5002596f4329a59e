"""Source-to-image: a source folder into a runnable bundle, an OCI image, Kubernetes manifests.

A source folder made for Seldon's s2i builder (a class file of the same name, its
dependencies, ``.s2i/environment``) becomes a bundle directory: a virtual environment
with modelserve and the dependencies, the source, and a ``run`` script (``bundle.py``).
``image.py`` builds an OCI image of a bundle with buildah; ``manifests.py`` writes the
Kubernetes resources that run it.
"""

# What ``modelserve manifests --kind`` writes: a Deployment with its Service and autoscaler,
# a KServe InferenceService, a SeldonDeployment.
MANIFEST_KINDS = ("deployment", "kserve", "seldon")


class BuildError(Exception):
    """The build cannot go on; the message names the file (and line) at fault."""

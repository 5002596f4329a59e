"""Loading the user's model: import, construct with parameters, ``load()``, metadata."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from modelserve.errors import StartupError
from modelserve.model.component import Component
from modelserve.model.loader import construct, import_user_class, parse_parameters
from modelserve.model.metadata import ModelMetadata
from modelserve.model.pyfunc import PyFuncComponent
from modelserve.settings import Settings

# What calls a kind of model: a user's class (Component), an MLflow pyfunc directory.
Adapter = Component | PyFuncComponent

logger = logging.getLogger(__name__)

# What each service type is expected to implement; missing ones only warn, since
# every route stays served (as in the original) and falls back.
_EXPECTED_METHODS = {
    "MODEL": ("predict", "predict_raw"),
    "ROUTER": ("route", "route_raw"),
    "TRANSFORMER": ("transform_input", "transform_input_raw"),
    "OUTPUT_TRANSFORMER": ("transform_output", "transform_output_raw"),
    "COMBINER": ("aggregate", "aggregate_raw"),
    "OUTLIER_DETECTOR": ("transform_input", "transform_input_raw", "predict", "predict_raw"),
}


@dataclass
class LoadedModel:
    component: Adapter
    metadata: ModelMetadata
    load_seconds: float
    loaded: bool = False

    def load(self) -> None:
        """Run the class's ``load()`` once; a failure is a StartupError naming it."""
        if self.loaded:
            return
        started = time.perf_counter()
        try:
            self.component.load()
        except StartupError:
            raise
        except Exception as error:  # user code
            raise StartupError(f"{self.component.name}.load() raised {type(error).__name__}: {error}") from None
        self.load_seconds += time.perf_counter() - started
        self.loaded = True
        logger.info("loaded %s in %.3fs", self.component.name, self.load_seconds)


def build_model(settings: Settings) -> LoadedModel:
    """Import and construct the user's class; its ``load()`` is not called yet.

    With ``--model-dir`` the model is an MLflow pyfunc directory, loaded by ``load()``."""
    started = time.perf_counter()
    if settings.model_dir is not None:
        pyfunc = PyFuncComponent(settings.model_dir, settings.user_threads, serial=settings.single_threaded)
        return LoadedModel(pyfunc, ModelMetadata.build(None, None, None), 0.0)
    user_class = import_user_class(settings.interface_name)
    kwargs = parse_parameters(settings.parameters)
    user = construct(user_class, kwargs)
    component = Component(user, settings.user_threads, serial=settings.single_threaded)
    _warn_missing(component, settings.service_type)
    metadata = ModelMetadata.build(user, settings.predictive_unit_image, settings.model_metadata)
    return LoadedModel(component, metadata, time.perf_counter() - started)


def load_model(settings: Settings) -> LoadedModel:
    """Build the model and run its ``load()``: what a server needs before serving."""
    model = build_model(settings)
    model.load()
    return model


def _warn_missing(component: Component, service_type: str) -> None:
    expected = _EXPECTED_METHODS.get(service_type, ())
    if expected and not any(component.user_method(name) for name in expected):
        logger.warning(
            "%s is served as %s but has none of %s: those calls will use the fallback",
            component.name,
            service_type,
            ", ".join(expected),
        )

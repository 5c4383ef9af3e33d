"""Errors raised by the device package: one base class and a few named cases."""


class DeviceError(Exception):
    """Base class for every error the device scripts raise on purpose."""


class ConfigError(DeviceError):
    """A setting is missing, out of bounds, or a resource name cannot be resolved."""


class CameraError(DeviceError):
    """A camera cannot be opened or cannot record a clip."""


class CameraUnavailableError(CameraError):
    """The requested camera's driver (picamera2) is not installed on this machine."""


class UploadError(DeviceError):
    """A clip's PUT to S3 failed; the clip stays in the spool for a retry."""

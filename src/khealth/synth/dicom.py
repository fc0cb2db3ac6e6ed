"""Small but real DICOM files (CT, MR, DX, US) for generated ImagingStudy resources.

Each instance is a 64×64 synthetic phantom (an ellipse with a modality-typical intensity range),
uncompressed little-endian, with the study/series/SOP instance UIDs of its ImagingStudy. Files are
byte-identical for the same seed: no dates but the study's, no random UIDs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, UID, ExplicitVRLittleEndian

from khealth.synth.history import ImagingJob
from khealth.synth.imaging import SOP_CLASSES

SIZE = 64
_RANGES = {"CT": (-1000, 1000), "MR": (0, 1200), "DX": (0, 4095), "US": (0, 255)}


def _pixels(modality: str, index: int) -> Any:
    y, x = np.mgrid[0:SIZE, 0:SIZE]
    low, high = _RANGES[modality]
    radius = 0.35 + 0.05 * index
    inside = ((x - SIZE / 2) / (SIZE * radius)) ** 2 + ((y - SIZE / 2) / (SIZE * 0.3)) ** 2 <= 1
    image = np.where(inside, high * 0.6, low if modality == "CT" else low + 20)
    image = image + ((x + y + index) % 7) * 3  # a little texture, deterministic
    if modality == "US":
        return image.clip(0, 255).astype(np.uint8)
    if modality == "CT":
        return (image - low).clip(0, 4095).astype(np.uint16)  # stored with RescaleIntercept
    return image.clip(0, 4095).astype(np.uint16)


def _dataset(job: ImagingJob, index: int, uid: str) -> Dataset:
    modality = job.modality
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UID(SOP_CLASSES[modality])
    meta.MediaStorageSOPInstanceUID = UID(uid)
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    ds = Dataset()
    ds.file_meta = meta
    ds.SpecificCharacterSet = "ISO_IR 192"  # UTF-8, for Korean names
    ds.SOPClassUID, ds.SOPInstanceUID = SOP_CLASSES[modality], uid
    ds.StudyInstanceUID, ds.SeriesInstanceUID = job.study_uid, job.series_uid
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = job.when.strftime("%Y%m%d")
    ds.StudyTime = ds.SeriesTime = ds.ContentTime = job.when.strftime("%H%M%S")
    ds.AccessionNumber, ds.Modality, ds.BodyPartExamined = job.accession, modality, job.body_part
    ds.InstitutionName = job.facility_name
    ds.PatientName = f"{job.patient_name[0]}^{job.patient_name[1:]}"
    ds.PatientID, ds.PatientBirthDate = job.mrn, job.birth_date.strftime("%Y%m%d")
    ds.PatientSex = "F" if job.female else "M"
    ds.StudyID, ds.SeriesNumber, ds.InstanceNumber = "1", 1, index + 1
    pixels = _pixels(modality, index)
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    bits = 8 if pixels.dtype == np.uint8 else 16
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = (
        bits,
        bits if bits == 8 else 12,
        (bits if bits == 8 else 12) - 1,
    )
    ds.PixelRepresentation = 0
    if modality == "CT":
        ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = -1000, 1, "HU"
        ds.SliceThickness, ds.ImagePositionPatient = 5.0, [0.0, 0.0, 5.0 * index]
    if modality in ("CT", "MR"):
        ds.PixelSpacing, ds.ImageOrientationPatient = [0.8, 0.8], [1, 0, 0, 0, 1, 0]
    if modality == "DX":
        ds.PresentationIntentType = "FOR PRESENTATION"
    ds.PixelData = pixels.tobytes()
    return ds


def write_study(job: ImagingJob, directory: Path) -> list[Path]:
    """Writes one file per instance under `directory/<study uid>/`; returns their paths."""
    study_dir = directory / job.study_uid
    study_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for index, uid in enumerate(job.instance_uids):
        path = study_dir / f"{uid}.dcm"
        _dataset(job, index, uid).save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths

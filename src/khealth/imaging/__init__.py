"""Imaging: DICOM files in a content-addressed object store, a DICOM index for QIDO-RS,
and the FHIR ImagingStudy each stored study becomes (issue 4 part 2)."""

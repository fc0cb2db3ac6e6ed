"""DICOM C-STORE over one association, and rendering: the listener of ``khealth serve
--dicom-port`` (``khealth.imaging.dimse.StoreScp``) in this process on a fresh SQLite
database, a pynetdicom SCU sending N slices of one CT series (pydicom's CT_small.dcm under
new UIDs), then each slice rendered as JPEG and as PNG.

Reported: instances per second, CPU seconds per instance (this process: SCU and SCP
threads), how many versions the study's ImagingStudy got and the bytes of its history; with
``--refile-every 1`` the ImagingStudy is rewritten after every instance, which is what a
per-instance STOW-RS store does (the comparison for the association-level filing).

    .venv/bin/python bench/bench_dimse.py [--instances 300] [--refile-every 200]
"""

from __future__ import annotations

import argparse
import io
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--instances", type=int, default=300)
    parser.add_argument("--refile-every", type=int, default=200)
    args = parser.parse_args()

    import pydicom
    from pydicom.data import get_testdata_file
    from pydicom.uid import generate_uid
    from pynetdicom import AE

    from khealth.fhir.search_parse import parse_search
    from khealth.imaging import render
    from khealth.imaging.dimse import DimseSettings, StoreScp
    from khealth.imaging.objectstore import FileObjectStore
    from khealth.imaging.service import Imaging
    from khealth.records.service import Records, load_json
    from khealth.store.factory import open_store
    from khealth.web.dicomweb import dicom_index
    from tests.integration.test_dicomweb import seed
    from tests.support import system_context

    work = Path(tempfile.mkdtemp(prefix="bench-dimse-"))
    store = open_store(f"sqlite:///{work / 'k.db'}", migrate=True)
    seed(store)
    records = Records(store)
    imaging = Imaging(records, dicom_index(store), FileObjectStore(work / "objects"))
    settings = DimseSettings(port=0, peers={"BENCH": "org-a"}, refile_every=args.refile_every)
    scp = StoreScp(imaging, settings).start()

    template = pydicom.dcmread(str(get_testdata_file("CT_small.dcm")))
    study, series = generate_uid(), generate_uid()
    slices = []
    for n in range(1, args.instances + 1):
        template.StudyInstanceUID, template.SeriesInstanceUID = study, series
        template.SOPInstanceUID = template.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        template.InstanceNumber = n
        out = io.BytesIO()
        template.save_as(out, enforce_file_format=True)
        slices.append(pydicom.dcmread(io.BytesIO(out.getvalue())))

    ae = AE(ae_title="BENCH")
    ae.add_requested_context(template.SOPClassUID, template.file_meta.TransferSyntaxUID)
    assoc = ae.associate("127.0.0.1", scp.port, ae_title="KHEALTH")
    started, cpu_started = time.perf_counter(), cpu()
    statuses = [int(assoc.send_c_store(ds).Status) for ds in slices]
    assoc.release()
    scp.stop()  # waits for the filing at association close
    wall, used = time.perf_counter() - started, cpu() - cpu_started
    assert set(statuses) == {0}, set(statuses)

    with records.begin(system_context(), "search-type") as rs:
        (found,) = rs.search(parse_search("ImagingStudy", [("_count", "10")])).page.matches
        body = load_json(found.content)
        history, _ = rs.history("ImagingStudy", found.id, None, 100_000, 0)
    size = sum(len(v.content) for v in history)
    print(f"C-STORE {args.instances} instances, refile every {args.refile_every}: "
          f"{args.instances / wall:.1f} instances/s, {1000 * used / args.instances:.1f} ms CPU "
          f"per instance; ImagingStudy: {len(history)} versions, {size} bytes of history, "
          f"{body['numberOfInstances']} instances listed")  # fmt: skip

    data = [imaging.objects.get(e.sha256) for e in imaging.index.instances_of(study)]
    for media_type in render.MEDIA_TYPES:
        started, cpu_started = time.perf_counter(), cpu()
        total = sum(len(render.render(d, 1, render.RenderOptions(media_type))) for d in data)
        wall, used = time.perf_counter() - started, cpu() - cpu_started
        print(f"rendered {media_type}: {1000 * wall / len(data):.2f} ms wall, "
              f"{1000 * used / len(data):.2f} ms CPU per 128x128 frame, {total // len(data)} bytes")  # fmt: skip
    store.close()


if __name__ == "__main__":
    main()

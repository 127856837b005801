"""Task files read only when a run has work for them: playbooks/tasks/app.yml includes the file of
the step a playbook runs, and a role's include_tasks hands its tags to the included tasks (an
include, unlike an import, does not), so `--tags` selects the same tasks as before."""

import re

import pytest

from conftest import ROOT, load_yaml

PLAYBOOKS = ROOT / "playbooks"


def test_every_step_a_playbook_runs_has_its_file():
    text = "\n".join(path.read_text() for path in PLAYBOOKS.rglob("*.yml"))
    steps = set(re.findall(r"__djangoops_step: (\w+)", text))
    assert steps == {"preflight", "deploy", "rollback"}
    work = load_yaml(PLAYBOOKS / "tasks" / "app.yml")[0]
    assert work["ansible.builtin.include_tasks"] == "app_{{ __djangoops_step }}.yml"
    for step in steps:
        assert (PLAYBOOKS / "tasks" / f"app_{step}.yml").is_file(), step


def includes():
    """(file, task, tags it runs under) for every include_tasks of the roles."""
    found = []
    for role in sorted((ROOT / "roles").iterdir()):
        tasks = role / "tasks"
        # Tags an imported file's tasks inherit from the import in main.yml.
        imported = {}
        for task in load_yaml(tasks / "main.yml") if (tasks / "main.yml").is_file() else []:
            if "ansible.builtin.import_tasks" in task:
                imported[task["ansible.builtin.import_tasks"]] = task.get("tags", [])
        for path in sorted(tasks.glob("*.yml")):
            for task in load_yaml(path) or []:
                if "ansible.builtin.include_tasks" in task:
                    tags = task.get("tags", imported.get(path.name, []))
                    where = f"{role.name}/{path.name}"
                    found.append(pytest.param(where, task, tags, id=f"{where}: {task['name']}"))
    return found


@pytest.mark.parametrize(("where", "task", "tags"), includes())
def test_an_include_hands_its_tags_to_the_included_tasks(where, task, tags):
    assert tags, f"{where}: {task['name']} runs under no tag"
    include = task["ansible.builtin.include_tasks"]
    assert isinstance(include, dict), f"{where}: {task['name']} needs file: and apply: tags"
    assert sorted(include.get("apply", {}).get("tags", [])) == sorted(tags), f"{where}: {task['name']}"

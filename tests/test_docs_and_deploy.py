"""The README, .env.example and deploy/ stay true to the code."""

import re
from pathlib import Path

from django.conf import settings

BASE_DIR = Path(__file__).resolve().parent.parent
READ_PATTERNS = (
    re.compile(r"""env_(?:str|bool|int|float|list|choice)\(\s*["']([A-Z0-9_]+)["']"""),
    re.compile(r"""os\.environ(?:\.get)?[\[(]\s*["']([A-Z0-9_]+)["']"""),
)
NOT_OURS = {"DJANGO_SETTINGS_MODULE", "PATH", "FLOWER_AUTH", "FLOWER_AUTH_PROVIDER"}


def variables_read_by_the_code() -> set[str]:
    names = set()
    for path in [*BASE_DIR.glob("capitolscope/*.py"), *BASE_DIR.glob("*/management/commands/*.py")]:
        text = path.read_text()
        for pattern in READ_PATTERNS:
            names.update(pattern.findall(text))
    names.update(re.findall(r"\$\{([A-Z0-9_]+)", (BASE_DIR / "Procfile").read_text()))
    return names - NOT_OURS


def test_every_environment_variable_is_documented_in_the_readme_and_env_example():
    names = variables_read_by_the_code()
    assert {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "FLOWER_BASIC_AUTH"} <= names
    readme = (BASE_DIR / "README.md").read_text()
    example = (BASE_DIR / ".env.example").read_text()
    assert not [n for n in names if f"`{n}`" not in readme], "missing from README configuration"
    assert not [n for n in names if not re.search(rf"^{n}=", example, re.M)], (
        "missing from .env.example"
    )


def test_the_worker_unit_and_procfile_consume_every_queue():
    queues = ",".join(settings.CELERY_QUEUE_NAMES)
    assert f"-Q {queues}" in (BASE_DIR / "deploy/systemd/capitolscope-worker.service").read_text()
    assert f"-Q {queues}" in (BASE_DIR / "Procfile").read_text()


def test_the_units_run_as_an_unprivileged_user_with_limits_and_an_env_file():
    for unit in (BASE_DIR / "deploy/systemd").glob("*.service"):
        text = unit.read_text()
        assert "User=capitolscope" in text, unit.name
        assert "EnvironmentFile=/etc/capitolscope/env" in text, unit.name
        assert "Restart=always" in text, unit.name
        assert "MemoryMax=" in text, unit.name


def test_the_cron_file_runs_the_healthcheck_every_five_minutes():
    text = (BASE_DIR / "deploy/cron/capitolscope").read_text()
    assert re.search(r"^\*/5 \* \* \* \* capitolscope .*manage\.py healthcheck", text, re.M)


def test_ci_runs_the_readme_test_command():
    readme = (BASE_DIR / "README.md").read_text()
    ci = (BASE_DIR / ".ci/run").read_text()
    assert "make test" in readme and "make run" in readme
    assert ci.count("make test") >= 2

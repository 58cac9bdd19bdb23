"""Settings: defaults, TOML file, NGC_PILOT_* environment, command line."""

from pathlib import Path

from ngc_pilot.settings import build_settings


def test_default_is_sqlite_under_var():
    settings = build_settings(environ={})
    assert settings.database_url == "sqlite:///var/ngc-pilot.db"


def test_environment_file_and_overrides_in_that_order(tmp_path: Path):
    config = tmp_path / "ngc.toml"
    config.write_text(
        'var_dir = "/srv/ngc"\n[database]\nurl = "sqlite:///from-file.db"\n[audit]\nactor = "file"\n'
    )
    settings = build_settings(config, environ={})
    assert settings.database_url == "sqlite:///from-file.db" and settings.actor == "file"
    env = {
        "NGC_PILOT_DATABASE_URL": "postgresql+psycopg://x@127.0.0.1/db",
        "NGC_PILOT_AUDIT__ACTOR": "env",
    }
    settings = build_settings(config, environ=env)
    assert settings.database_url.startswith("postgresql") and settings.actor == "env"
    settings = build_settings(config, {"audit": {"actor": "cli"}}, environ=env)
    assert settings.actor == "cli"
    assert str(settings.var_dir) == "/srv/ngc"


def test_config_file_named_by_environment(tmp_path: Path):
    config = tmp_path / "ngc.toml"
    config.write_text('[policy]\nselection_file = "/etc/ngc/selection.yaml"\n')
    settings = build_settings(environ={"NGC_PILOT_CONFIG": str(config)})
    assert str(settings.policy.selection_file) == "/etc/ngc/selection.yaml"


def test_bad_policy_file_through_the_cli_exits_2_with_every_problem(tmp_path: Path, capsys):
    from ngc_pilot.cli.main import run
    from policies.selection_policy import default_policy_path

    bad = tmp_path / "policy.yaml"
    bad.write_text(
        default_policy_path()
        .read_text()
        .replace("k_max: 10", "k_max: ten")
        .replace("gpus: 16", "gpus: -1")
    )
    code = run(
        [
            "--db",
            f"sqlite:///{tmp_path / 'x.db'}",
            "--policy",
            str(bad),
            "policy",
            "check",
            str(bad),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert "selection.k_max = 'ten'" in err and "capacity.gpus = -1" in err
    assert "policy.yaml:" in err


def test_os_cloud_picks_the_cloud():
    settings = build_settings(environ={"OS_CLOUD": "ngc-prod"})
    assert settings.cloud.name == "ngc-prod"


def test_os_client_config_file_locates_clouds_yaml(tmp_path: Path):
    clouds = tmp_path / "clouds.yaml"
    settings = build_settings(environ={"OS_CLIENT_CONFIG_FILE": str(clouds)})
    assert settings.cloud.clouds_file == clouds


def test_ngc_pilot_settings_win_over_the_openstack_variables(tmp_path: Path):
    os_env = {"OS_CLOUD": "from-os", "OS_CLIENT_CONFIG_FILE": "/etc/os/clouds.yaml"}
    config = tmp_path / "ngc.toml"
    config.write_text('[cloud]\nname = "from-file"\nclouds_file = "/etc/ngc/clouds.yaml"\n')
    from_file = build_settings(config, environ=os_env)
    assert from_file.cloud.name == "from-file"
    assert str(from_file.cloud.clouds_file) == "/etc/ngc/clouds.yaml"
    env = {**os_env, "NGC_PILOT_CLOUD__NAME": "from-env"}
    from_env = build_settings(environ=env)
    assert from_env.cloud.name == "from-env"
    assert str(from_env.cloud.clouds_file) == "/etc/os/clouds.yaml"  # only the name was given


def test_os_username_style_credentials_are_ignored():
    credentials = {
        "OS_USERNAME": "intruder",
        "OS_PASSWORD": "not-read",
        "OS_AUTH_URL": "http://127.0.0.1:1/v3",
        "OS_PROJECT_NAME": "other",
        "OS_REGION_NAME": "elsewhere",
    }
    assert build_settings(environ=credentials) == build_settings(environ={})


def test_the_application_context_and_the_facade_need_no_click():
    """The TUI and the scheduler start from ngc_pilot.application without the CLI."""
    import subprocess
    import sys

    code = (
        "import sys, ngc_pilot.application, ngc_pilot.facade\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('click', 'typer')"
        " or m.startswith('ngc_pilot.cli')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_closing_the_application_lets_go_of_its_engine_and_the_next_use_opens_one(tmp_path: Path):
    from ngc_pilot.application import Application

    app = Application(
        build_settings(overrides={"database": {"url": f"sqlite:///{tmp_path}/a.db"}}, environ={})
    )
    app.close()  # nothing opened yet: nothing to do
    first = app.engine
    assert app.engine is first  # made once
    app.close()
    assert app.engine is not first
    app.close()


def test_kubernetes_kubeconfig_and_context_from_the_environment(tmp_path: Path):
    settings = build_settings(
        environ={
            "NGC_PILOT_KUBERNETES__KUBECONFIG": str(tmp_path / "kc"),
            "NGC_PILOT_KUBERNETES__CONTEXT": "ops",
        }
    )
    assert settings.kubernetes.kubeconfig == tmp_path / "kc"
    assert settings.kubernetes.context == "ops"
    assert build_settings(environ={}).kubernetes.kubeconfig is None


def test_a_kubeconfig_that_does_not_load_is_one_clear_line(tmp_path: Path):
    import pytest

    from ngc_pilot.application import Application
    from ngc_pilot.errors import InputError

    bad = tmp_path / "kubeconfig"
    bad.write_text("this: [is not a kubeconfig\n")
    app = Application(build_settings(environ={"NGC_PILOT_KUBERNETES__KUBECONFIG": str(bad)}))
    assert Application(build_settings(environ={})).kubernetes_backend_factory() is None
    factory = app.kubernetes_backend_factory()
    with pytest.raises(InputError) as caught:
        factory()
    message = str(caught.value)
    assert "\n" not in message
    assert "kubernetes.kubeconfig" in message and str(bad) in message

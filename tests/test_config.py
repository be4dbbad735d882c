"""ServiceConfig: defaults, TOML loading, validation, auth-mode handling."""

import pytest

from streamcal.config import (PIPELINES, PoolConfig, RetryConfig, ServiceConfig, apply_auth_mode,
                              canonical_pipeline, config_from_dict, load_config)


def test_defaults_cover_every_pipeline_and_fit_two_cpus():
    config = ServiceConfig()
    assert set(config.pools) == set(PIPELINES) and len(PIPELINES) == 11
    assert config.ray.address is None and config.ray.dashboard_host == "127.0.0.1"
    assert sum(p.size * p.num_cpus for p in config.pools.values()) <= 2.0
    assert config.pool("detector1") is config.pools["calwebb_detector1"]


def test_load_toml(tmp_path):
    path = tmp_path / "svc.toml"
    path.write_text('landing = "/data/in"\n[ray]\naddress = "auto"\nauth_mode = "token"\n'
                    '[retries]\nmax_attempts = 5\n[ingest]\npolling = true\n'
                    '[pools.detector1]\nsize = 3\nmax_in_flight = 6\n[pools.calwebb_dark1]\nnum_cpus = 1\n'
                    '[pools.tso1]\nresources = {stage_node = 1}\nlabel_selector = {role = "stage"}\n')
    config = load_config(path)
    assert config.ray.address == "auto" and config.ray.auth_mode == "token"
    assert config.retries.max_attempts == 5 and config.retries.backoff_seconds == 1.0
    assert config.ingest.polling and str(config.landing) == "/data/in"
    d1 = config.pool("calwebb_detector1")
    assert (d1.size, d1.max_in_flight, d1.num_cpus) == (3, 6, 0.5)  # unnamed keys keep their defaults
    assert config.pool("dark").num_cpus == 1
    assert config.pool("tso1").resources == {"stage_node": 1} and config.pool("tso1").label_selector == {"role": "stage"}
    assert load_config(None) == ServiceConfig()


@pytest.mark.parametrize("data, match", [
    ({"bogus": 1}, "unknown configuration key"),
    ({"ray": {"adress": "x"}}, r"\[ray\] has unknown key"),
    ({"pools": {"detector9": {}}}, "unknown pipeline"),
    ({"pools": {"tso1": {"size": 0}}}, ">= 1"),
    ({"ray": {"auth_mode": "maybe"}}, "auth_mode"),
])
def test_bad_config_is_refused(data, match):
    with pytest.raises(ValueError, match=match):
        config_from_dict(data)


def test_retry_backoff_doubles():
    assert [RetryConfig(backoff_seconds=0.5).delay(k) for k in (1, 2, 3)] == [0.5, 1.0, 2.0]


def test_with_dirs_and_canonical_names(tmp_path):
    config = ServiceConfig().with_dirs(tmp_path / "in", tmp_path / "out", address="auto")
    assert config.landing == tmp_path / "in" and config.products == tmp_path / "out"
    assert config.ray.address == "auto"
    assert canonical_pipeline("tso3") == "calwebb_tso3"
    with pytest.raises(ValueError):
        PoolConfig(num_cpus=-1)


def test_apply_auth_mode_exports_only_when_asked():
    env = {}
    assert apply_auth_mode(config_from_dict({}).ray, env) is None and env == {}
    assert apply_auth_mode(config_from_dict({"ray": {"auth_mode": "disabled"}}).ray, env) == "disabled"
    assert env["RAY_AUTH_MODE"] == "disabled"


def test_deploy_files_spell_out_the_defaults_and_the_two_node_placement():
    from pathlib import Path

    deploy = Path(__file__).resolve().parents[1] / "deploy"
    assert load_config(deploy / "streamcal.toml") == ServiceConfig()      # every default, as documented
    two = load_config(deploy / "two_nodes.toml")
    assert two.ray.control_label_selector == {"role": "ingest"} and two.ray.auth_mode == "token"
    stage1 = [two.pool(p) for p in ("detector1", "tso1", "dark", "guider")]
    assert all(p.label_selector == {"role": "stage"} and "stage1" in p.resources for p in stage1)
    # the worker node of two_nodes.sh has 1 CPU and 4 "stage1" slots: every stage-1 pool fits at once
    assert sum(p.size * p.num_cpus for p in stage1) <= 1.0
    assert sum(p.size * p.resources["stage1"] for p in stage1) <= 4


def test_association_timeout_from_toml(tmp_path):
    path = tmp_path / "svc.toml"
    path.write_text("[associations]\nlate_member_timeout = 30\n")
    assert load_config(path).associations.late_member_timeout == 30
    with pytest.raises(ValueError, match="late_member_timeout"):
        config_from_dict({"associations": {"late_member_timeout": -1}})


def test_pipeline_step_parameters_and_overrides_from_toml(tmp_path):
    """[pipelines.<short name>] holds jwst step parameters and reference overrides; wrong names
    and missing files fail at load with the section named."""
    from streamcal.config import config_from_dict

    gain = tmp_path / "gain.fits"
    gain.write_bytes(b"x")
    cfg = config_from_dict({"pipelines": {"detector1": {"steps": {"jump": {"rejection_threshold": 5.0}},
                                                        "overrides": {"gain": str(gain)}}}})
    d1 = cfg.pipeline("calwebb_detector1")
    assert d1.steps == {"jump": {"rejection_threshold": 5.0}} and d1.overrides == {"gain": str(gain)}
    assert cfg.pipeline("image2").steps == {}
    with pytest.raises(ValueError, match=r"\[pipelines.detector1.steps\].*no step"):
        config_from_dict({"pipelines": {"detector1": {"steps": {"tweakreg": {"a": 1}}}}})
    with pytest.raises(ValueError, match=r"\[pipelines.image2.overrides\]: no such file"):
        config_from_dict({"pipelines": {"image2": {"overrides": {"flat": str(tmp_path / "none.fits")}}}})
    with pytest.raises(ValueError, match="unknown pipeline"):
        config_from_dict({"pipelines": {"detector9": {}}})

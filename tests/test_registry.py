import pytest

from benchmark.core.registry import METHODS, TASKS, PluginError, Registry, RegistryError, load_plugin_file


def test_decorator_and_lookup():
    reg = Registry("widget")

    @reg.register("a")
    class A:
        pass

    assert reg.get("a") is A
    assert reg.names() == ["a"]


def test_duplicate_name_raises():
    reg = Registry("widget")
    reg.register("a", object())
    with pytest.raises(RegistryError, match="already registered"):
        reg.register("a", object())


def test_unknown_name_lists_choices_and_suggests():
    reg = Registry("widget")
    reg.register("ar-map", object())
    reg.register("elbo-dpo", object())
    with pytest.raises(RegistryError) as err:
        reg.get("ar-mapp")
    assert "did you mean 'ar-map'" in str(err.value).lower()
    assert "ar-map, elbo-dpo" in str(err.value)


def test_lazy_target_imported_on_first_use():
    reg = Registry("widget")
    reg.register("dumps", "json:dumps")
    import json

    assert reg.get("dumps") is json.dumps


def test_lazy_target_that_fails_names_the_plugin():
    reg = Registry("widget")
    reg.register("broken", "no_such_module_xyz:Thing")
    with pytest.raises(PluginError, match="widget 'broken'.*no_such_module_xyz"):
        reg.get("broken")


def test_entry_points_expose_the_builtin_plugins():
    assert {"base", "ar-dpo", "ar-map", "elbo-dpo"} <= set(METHODS.names())
    assert {"arith", "facts", "listing"} <= set(TASKS.names())
    assert METHODS.get("ar-map").name == "ar-map"


def test_plugin_file_that_fails_to_import(tmp_path):
    bad = tmp_path / "bad_plugin.py"
    bad.write_text("import does_not_exist_anywhere\n")
    with pytest.raises(PluginError) as err:
        load_plugin_file(bad)
    assert str(bad) in str(err.value) and "does_not_exist_anywhere" in str(err.value)


def test_missing_plugin_file(tmp_path):
    with pytest.raises(PluginError, match="no such file"):
        load_plugin_file(tmp_path / "nope.py")


def test_a_plugin_cannot_shadow_a_builtin_method(tmp_path):
    """Before any lookup (entry points not scanned yet) a plugin named 'vrpo' must not replace the built-in."""
    plugin = tmp_path / "fake_vrpo.py"
    plugin.write_text(
        "from benchmark.core.api import Method\n"
        "from benchmark.core.registry import register_method\n\n"
        "@register_method('vrpo')\n"
        "class FakeVRPO(Method):\n"
        "    name = 'vrpo'\n"
        "    def align(self, ctx):\n"
        "        raise NotImplementedError\n")
    fresh = Registry("method", "benchmark.methods")
    import benchmark.core.registry as registry

    saved = registry.METHODS
    registry.METHODS, registry.register_method = fresh, fresh.register
    try:
        with pytest.raises(PluginError) as err:
            load_plugin_file(plugin)
    finally:
        registry.METHODS, registry.register_method = saved, saved.register
    message = str(err.value)
    assert "method 'vrpo'" in message and "fake_vrpo.py" in message and "baselines.vrpo:VRPOMethod" in message
    assert fresh.get("vrpo").__module__ == "baselines.vrpo"


def test_a_cell_config_names_the_code_of_its_method():
    from benchmark.core.provenance import source_of

    vrpo = source_of(METHODS.get("vrpo"))
    classes = [s["class"] for s in vrpo]
    assert classes[:2] == ["baselines.vrpo:VRPOMethod", "baselines.elbo_dpo:ElboDPOMethod"]
    assert all(len(s["sha256"]) == 16 for s in vrpo)

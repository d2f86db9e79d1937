"""Recipes chaining two networks: outputs, resumption, validation before anything runs."""
import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

import stylegan
from stylegan import pipeline
from stylegan.cli import cli
from stylegan.errors import InputError
from stylegan.latent import load_ws, save_ws, seeds_to_ws

from conftest import DATA, ROOT

RECIPE = """\
psi = 0.7

[networks]
sprite = "{sprite}"
portrait = "{portrait}"

[[steps]]
type = "generate"
network = "sprite"

[[steps]]
type = "mix"
source = "heroine.npz"
layers = "0-3"

[[steps]]
type = "crop"
box = [0.25, 0.25, 0.75, 0.75]

[[steps]]
type = "resize"
size = 32

[[steps]]
type = "project"
network = "portrait"
steps = 8
loss = "pixel"

[[steps]]
type = "variants"
layers = "{variant_layers}"
[steps.sources]
happy = "happy.npz"
worried = 5

[[steps]]
type = "save"
name = "final"
"""


@pytest.fixture
def recipe_dir(tmp_path):
    sprite, portrait = DATA / "sg2_skip_32.pkl", DATA / "sg3t_32.pkl"
    G_sprite, G_portrait = stylegan.load(sprite), stylegan.load(portrait)
    save_ws(tmp_path / "heroine.npz", seeds_to_ws(G_sprite, [77], 0.7))
    save_ws(tmp_path / "happy.npz", seeds_to_ws(G_portrait, [9], 0.7))
    return tmp_path, dict(sprite=sprite, portrait=portrait, variant_layers="6")


def _write(folder, fields, **changes):
    path = folder / "recipe.toml"
    path.write_text(RECIPE.format(**{**fields, **changes}))
    return path


@pytest.mark.slow
def test_recipe_runs_writes_every_step_and_resumes(recipe_dir):
    folder, fields = recipe_dir
    out = folder / "out"
    lines = []
    record = pipeline.run(_write(folder, fields), [3], outdir=out, progress=lines.append)
    files = sorted(p.name for p in (out / "seed0003").iterdir())
    assert files == ["01-generate.npz", "01-generate.png", "02-mix.npz", "02-mix.png", "03-crop.png",
                     "04-resize.png", "05-project.npz", "05-project.png", "06-variants.npz", "06-variants.png",
                     "07-save.npz", "07-save.png", "contact.png", "final.npz", "final.png", "variant-happy.npz",
                     "variant-happy.png", "variant-worried.npz", "variant-worried.png"]
    G_sprite, G_portrait = stylegan.load(fields["sprite"]), stylegan.load(fields["portrait"])
    generated, mixed = load_ws(out / "seed0003" / "01-generate.npz"), load_ws(out / "seed0003" / "02-mix.npz")
    heroine = load_ws(folder / "heroine.npz")
    assert torch.equal(generated, seeds_to_ws(G_sprite, [3], 0.7))
    assert torch.equal(mixed[:, :4], heroine[:, :4]) and torch.equal(mixed[:, 4:], generated[:, 4:])
    projected, happy = load_ws(out / "seed0003" / "05-project.npz"), load_ws(out / "seed0003" / "variant-happy.npz")
    assert projected.shape[1:] == (G_portrait.num_ws, G_portrait.w_dim)
    assert torch.equal(happy[:, 6], load_ws(folder / "happy.npz")[:, 6])
    assert torch.equal(happy[:, :6], projected[:, :6])
    run_json = json.loads((out / "run.json").read_text())
    assert run_json["seeds"] == [3] and [k for k, _ in run_json["timings"]["3"]][:2] == ["generate", "mix"]
    assert "torch" in run_json["versions"] and record["psi"] == 0.7
    again = []
    pipeline.run(_write(folder, fields), [3, 5], outdir=out, progress=again.append)
    assert again[0] == "seed 3: already done, skipping"
    assert (out / "seed0005" / "contact.png").exists()


@pytest.mark.parametrize("field,value,message", [
    ("variant_layers", "20", "out of range"),
    # happy.npz holds StyleGAN3 ws (16 rows): with the StyleGAN2 network as the portrait model they do not fit.
    ("portrait", "sprite", "do not fit this network"),
])
def test_recipe_problems_are_reported_before_anything_runs(recipe_dir, field, value, message):
    folder, fields = recipe_dir
    value = fields.get(value, value)
    with pytest.raises(InputError, match=message) as err:
        pipeline.run(_write(folder, fields, **{field: value}), [1], outdir=folder / "out")
    assert "step 6 (line 30)" in str(err.value)
    assert not (folder / "out").exists()


def test_unknown_steps_and_options(tmp_path):
    net = DATA / "sg2_skip_32.pkl"
    bad = tmp_path / "bad.toml"
    bad.write_text(f'[networks]\na = "{net}"\n\n[[steps]]\ntype = "generate"\n\n[[steps]]\ntype = "sharpen"\n')
    with pytest.raises(InputError, match=r"step 2 \(line 7\): unknown step type 'sharpen'"):
        pipeline.run(bad, [1], outdir=tmp_path / "o")
    bad.write_text(f'[networks]\na = "{net}"\n\n[[steps]]\ntype = "generate"\nsize = 3\n')
    with pytest.raises(InputError, match="generate takes no option size"):
        pipeline.run(bad, [1], outdir=tmp_path / "o")
    bad.write_text(f'[networks]\na = "{net}"\n\n[[steps]]\ntype = "generate"\n\n[[steps]]\ntype = "resize"\n'
                   f'size = 16\n\n[[steps]]\ntype = "truncate"\npsi = 0.5\n')
    with pytest.raises(InputError, match="drops the latent"):
        pipeline.run(bad, [1], outdir=tmp_path / "o")
    bad.write_text('[[steps]]\ntype = "generate"\n')
    with pytest.raises(InputError, match="networks"):
        pipeline.run(bad, [1], outdir=tmp_path / "o")


def test_pipeline_cli_and_yaml(tmp_path):
    yaml = pytest.importorskip("yaml")
    net = str(DATA / "sg2_skip_32.pkl")
    recipe = {"networks": {"a": net}, "steps": [{"type": "generate"}, {"type": "truncate", "psi": 0.0}]}
    (tmp_path / "r.yaml").write_text(yaml.safe_dump(recipe))
    result = CliRunner().invoke(cli, ["pipeline", str(tmp_path / "r.yaml"), "--seeds", "1-2", "--outdir",
                                      str(tmp_path / "out"), "--device", "cpu"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    G = stylegan.load(net)
    assert np.allclose(load_ws(tmp_path / "out" / "seed0001" / "02-truncate.npz").numpy(),
                       G.mapping.w_avg.expand(1, G.num_ws, -1).numpy(), atol=1e-6)


@pytest.mark.slow
def test_the_example_recipe_runs_on_two_networks(tmp_path):
    """examples/sprite_to_portrait.toml as shipped, its networks pointed at two test networks and its
    projection shortened."""
    example = (ROOT / "examples" / "sprite_to_portrait.toml").read_text()
    assert example.count('"builtin:demo"') == 2 and "steps = 300" in example
    text = (example.replace('sprite = "builtin:demo"', f'sprite = "{DATA / "sg2_skip_32.pkl"}"')
            .replace('portrait = "builtin:demo"', f'portrait = "{DATA / "sg3t_32.pkl"}"')
            .replace("steps = 300", "steps = 4"))
    recipe = tmp_path / "example.toml"
    recipe.write_text(text)
    pipeline.run(recipe, [0], outdir=tmp_path / "out", progress=lambda message: None)
    outputs = sorted(p.name for p in (tmp_path / "out" / "seed0000").iterdir())
    for name in ("happy", "worried", "portrait"):
        assert any(name in o and o.endswith(".png") for o in outputs), (name, outputs)


SMALL = """\
[networks]
main = "{network}"

[[steps]]
type = "generate"

[[steps]]
type = "truncate"
psi = 0.7

[[steps]]
type = "mix"
source = 5
mode = "weight"
weight = 0.3

[[steps]]
type = "variants"
sources = {{ a = 5 }}

[[steps]]
type = "save"
name = "edited"

[[steps]]
type = "crop"
box = [0.1, 0.1, 0.9, 0.9]

[[steps]]
type = "resize"
size = 24
"""


@pytest.mark.parametrize("old,new,message", [
    ('type = "save"', "type = [1, 2]", "unknown step type [1, 2]"),
    ("psi = 0.7", "", "truncate needs the option psi"),
    ("psi = 0.7", "psi = 1e308", "psi must be a finite number, got 1e+308"),
    ("psi = 0.7", "psi = nan", "psi must be a finite number, got nan"),
    ('mode = "weight"', "mode = 1979-05-27", "mode must be 'replace', 'average' or 'weight', got datetime.date"),
    ("weight = 0.3", 'weight = "x"', "weight must be a finite number, got 'x'"),
    ("source = 5", "source = 99999999999", "source must be a seed from 0 to 4294967295 or a ws file"),
    ("source = 5", 'source = "²"', "source must be a seed"),
    ("box = [0.1, 0.1, 0.9, 0.9]", 'box = ""', "box must be [left, top, right, bottom] in 0..1"),
    ("box = [0.1, 0.1, 0.9, 0.9]", "box = [0.1, 0.1, 0.105, 0.9]", "leaves no pixel of the 32x32 picture"),
    ("size = 24", "size = 100000", "size must be a whole number from 1 to 8192"),
    ('name = "edited"', "name = 5", "name must be a plain file name"),
    ('name = "edited"', 'name = "../edited"', "name must be a plain file name"),
    ("sources = { a = 5 }", 'sources = "/dev/zero"', "sources must be a table of names"),
    ('main = "', 'main = 1\nother = "', "[networks] names checkpoint files (text), got 1"),
])
def test_recipe_values_of_the_wrong_kind_are_refused_in_one_line(tmp_path, old, new, message):
    """Values a damaged recipe can hold (found by the input fuzzer, tests/input_fuzz.py): each is refused in
    one line before anything runs, where each used to raise from inside a step (TypeError, KeyError,
    ValueError) or to be written out."""
    text = SMALL.format(network=(DATA / "sg2_resnet_gray_32.pkl").as_posix())
    assert old in text
    recipe = tmp_path / "r.toml"
    recipe.write_text(text.replace(old, new, 1))
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["pipeline", str(recipe), "--seeds", "0", "--outdir", str(out)])
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 1 and len(lines) == 1 and message in lines[0], result.output
    assert not out.exists()
    recipe.write_text(text)  # the intact recipe runs
    result = CliRunner().invoke(cli, ["pipeline", str(recipe), "--seeds", "0", "--outdir", str(out)])
    assert result.exit_code == 0 and (out / "seed0000" / "contact.png").exists(), result.output


@pytest.mark.parametrize("text,message", [
    ("networks:\n  main: {net}\nsteps:\n  - type: generate\n\0", r"invalid YAML \(unacceptable character #x0000"),
    ("networks:\n  main: {net}\nsteps: [\n", r"invalid YAML \(line 4, column 1: expected the node content"),
    ("just text", "needs a non-empty list of steps"),
    ("networks:\n  main: {net}\nsteps: text", "needs a non-empty list of steps"),
    ("networks:\n  main: {net}\nsteps: [1, 2]", r"step 1 \(line 3\): a step is a table with a type, got 1"),
])
def test_damaged_yaml_recipes_are_refused_in_one_line(tmp_path, text, message):
    pytest.importorskip("yaml")
    recipe = tmp_path / "r.yaml"
    recipe.write_text(text.format(net=(DATA / "sg2_resnet_gray_32.pkl").as_posix()))
    with pytest.raises(InputError, match=message) as caught:
        pipeline.run(recipe, [0], outdir=tmp_path / "out")
    assert "\n" not in str(caught.value), str(caught.value)
    assert not (tmp_path / "out").exists()

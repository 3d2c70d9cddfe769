"""Suite-trained tiny backbones (issue 18): trainers at toy size, strict loading, geometry choice, shipped CLIP."""
import json

import numpy as np
import pytest
import torch

from flash_bench import backbones_train as bt
from flash_bench.features import clip, trained, videomae
from flash_bench.types import InputError

V2 = bt.GEOMETRY


@pytest.fixture(scope="module")
def pool():
    return bt.render_pool(bt.PoolConfig(videos_per_action=2, random_videos=4))


def test_pool_is_the_v2_pretraining_pool_without_the_few_shot_actions(pool):
    from flash_bench.datasets import synthetic

    assert pool.videos.shape == (24, *V2[:1], V2[1], V2[1], 3)
    names = [bt.classes()[k] for k in pool.labels]
    assert set(names) == set(synthetic.PRETRAIN_ACTIONS) | {synthetic.RANDOM_ACTION}
    assert not set(names) & set(synthetic.ACTIONS)
    expected = synthetic.render_video("walking", 1, num_frames=V2[0], size=V2[1])
    np.testing.assert_array_equal(pool.videos[names.index("walking") + 1], expected)


def test_colour_names_match_the_palette():
    from PIL import ImageColor

    from flash_bench.datasets.synthetic import PALETTE

    css = {"teal": "darkturquoise", "pink": "hotpink"}   # the palette's teal and pink are these CSS colours
    for i, name in enumerate(bt.COLOUR_NAMES):
        rgb = np.array(ImageColor.getrgb(css.get(name, name))) / 255
        assert np.linalg.norm(PALETTE - rgb, axis=1).argmin() == i, name


def test_clothing_colours_reads_the_figure_pixels_most_first():
    from flash_bench.datasets.synthetic import PALETTE

    video = np.zeros((2, 10, 10, 3), np.uint8)
    mask = np.zeros((2, 10, 10), bool)
    mask[:, :6] = True                                                   # 120 figure pixels
    video[:, :4] = np.round(PALETTE[1] * 255)                            # blue: 80 (67%)
    video[:, 4:6, :7] = np.round(PALETTE[0] * 255)                       # red: 28 (23%)
    video[:, 4:6, 7:] = np.round(PALETTE[3] * 255)                       # yellow: 12 (10%, not below the share)
    video[:, 6:] = np.round(PALETTE[8] * 255)                            # black, outside the mask
    assert bt.clothing_colours(video, mask) == ("blue", "red")
    assert bt.caption("a person is bowing.", ("blue", "red"), 2) == "a person is bowing, wearing blue and red."
    assert bt.caption("a person is bowing.", (), 1) == "a person is bowing."


@pytest.mark.parametrize("unknown_ids", [1, 16])
def test_compact_tokenizer_keeps_eot_largest_and_hashes_unseen_ids_to_the_unknown_ids(unknown_ids):
    tok = clip.CompactTokenizer(clip.CompactTokenizer([], 8).bpe(["a person is walking."])[0].tolist(), 12,
                                unknown_ids)
    ids = tok(["a person is walking.", "a person is sprinting.", "a person is sprinting."])
    assert ids.shape == (3, 12) and int(ids.max()) == tok.vocab_size - 1
    assert tok.vocab_size == 1 + unknown_ids + len(tok.ids) + 2
    assert (ids.argmax(1) == (ids > 0).sum(1) - 1).all()                 # argmax pooling finds end-of-text
    known, unseen = ids[0][ids[0] > 0], ids[1][ids[1] > 0]
    assert not tok.words(unseen[4:6]).any() and tok.words(known[1:5]).all()
    assert all(1 <= int(u) <= unknown_ids for u in unseen[4:6]) and torch.equal(ids[1], ids[2])   # same word, same id
    assert len(set(known.tolist())) == len(known)
    sprint = tok.bpe(["a person is sprinting."])[0, 4:6]                  # "spr", "inting": unseen
    assert unseen[4:6].tolist() == clip.unknown_row(sprint, unknown_ids).tolist()


def _caption_vocabulary(pool):
    captions = bt.all_captions(bt.concat(pool, bt.render_caption_pool(1, reach_per_kind=1, near_per_kind=1)))
    return sorted(set(clip.CompactTokenizer([], 24).bpe(captions, context_length=24).unique().tolist()))


def test_the_default_tokenizer_tells_every_few_shot_prompt_apart(pool):
    """With one unknown id "doing push-ups" and "doing the shoot dance" are one token string (all three words of
    each unseen): the check could never retrieve the second. The default's hashed unknown ids keep them apart."""
    from flash_bench.datasets import synthetic

    prompts = [spec.prompt for spec in synthetic.ACTIONS.values()]
    ids = _caption_vocabulary(pool)
    one = clip.CompactTokenizer(ids, 24)(prompts)
    push, shoot = list(synthetic.ACTIONS).index("push_up"), list(synthetic.ACTIONS).index("shoot_dance")
    assert torch.equal(one[push], one[shoot])
    rows = clip.CompactTokenizer(ids, 24, bt.ClipConfig().unknown_ids)(prompts)
    assert len({tuple(r.tolist()) for r in rows}) == len(prompts)


def test_clip_frames_are_the_featurisers_input_at_the_clips_size():
    """n frames of each video in order, resized as open_clip's eval preprocessing does (after its mean/std)."""
    from PIL import Image

    from flash_bench.datasets import synthetic

    video = synthetic.render_video("drinking_from_cup", 5000, num_frames=V2[0], size=V2[1])
    model_cfg = bt.clip_model_cfg(bt.ClipConfig(), 80)
    _, preprocess = clip.tiny_model({**model_cfg, "vision_cfg": {**model_cfg["vision_cfg"], "image_size": 64}})

    class NoAugment:                                          # picks frames 1 and 5, no flip, no shift
        def choice(self, n, k, replace):
            return np.array([5, 1])

        def random(self):
            return 1.0

        def integers(self, low, high=None, size=None):
            return np.zeros(size, int)

    x = bt.clip_frames(video[None], 2, 64, NoAugment())
    assert x.shape == (1, 3, 2, 64, 64)
    mean = torch.tensor((0.48145466, 0.4578275, 0.40821073)).view(3, 1, 1)
    std = torch.tensor((0.26862954, 0.26130258, 0.27577711)).view(3, 1, 1)
    for j, t in enumerate((1, 5)):
        torch.testing.assert_close((x[0, :, j] - mean) / std, preprocess(Image.fromarray(video[t])))


def test_tube_mask_hides_the_same_places_in_every_frame():
    m = bt.tube_mask(3, (4, 8, 8), 0.9, np.random.default_rng(0)).reshape(3, 4, 64)
    assert (m == m[:, :1]).all() and (m.sum(-1) == round(0.9 * 64)).all()


def test_patch_targets_follow_the_token_order_of_videomae_patch_embed():
    from cdfvd.third_party.VideoMAEv2.videomaev2_finetune import PatchEmbed

    tb, p = 2, 4
    embed = PatchEmbed(img_size=8, patch_size=p, in_chans=3, embed_dim=tb * p * p * 3, num_frames=4, tubelet_size=tb)
    eye = torch.eye(tb * p * p * 3).reshape(-1, tb, p, p, 3).permute(0, 4, 1, 2, 3)   # output k reads pixel k (t,y,x,c)
    with torch.no_grad():
        embed.proj.weight.copy_(eye)
        embed.proj.bias.zero_()
    x = torch.rand(2, 3, 4, 8, 8)
    raw = embed(x).reshape(2, 8, tb * p * p, 3)                          # (B, N, pixels of a token, C)
    expected = (raw - raw.mean(2, keepdim=True)) / (raw.var(2, keepdim=True).sqrt() + 1e-6)
    torch.testing.assert_close(bt.patch_targets(x, tb, p), expected.reshape(2, 8, -1), rtol=1e-4, atol=1e-4)


def test_folding_videomaes_pixel_norm_makes_the_model_take_cd_fvds_input():
    model = videomae.tiny_model({**bt.videomae_model_cfg(bt.VideoMAEConfig()), "depth": 1}).eval()
    x = torch.rand(2, 3, *bt.GEOMETRY[:1], bt.GEOMETRY[1], bt.GEOMETRY[1])          # cd-fvd's input: /255
    mean, std = torch.tensor([0.485, 0.456, 0.406]), torch.tensor([0.229, 0.224, 0.225])   # ImageNet's, VideoMAE's
    with torch.no_grad():
        expected = model.forward_features((x - mean.view(1, 3, 1, 1, 1)) / std.view(1, 3, 1, 1, 1))
        bt.fold_pixel_norm(model)
        torch.testing.assert_close(model.forward_features(x), expected, rtol=1e-4, atol=1e-4)


def test_temporal_corruptions_are_a_pool_videos_frames_frozen_or_reordered():
    videos = np.random.default_rng(1).integers(0, 256, (6, 8, 4, 4, 3), dtype=np.uint8)   # every frame unique
    pool = bt.Pool(videos, np.arange(6), [""] * 6, [()] * 6)
    out = bt.temporal_corruptions(pool, 5, np.random.default_rng(0))
    n, k = len(pool.videos), len(bt.classes())
    np.testing.assert_array_equal(out.videos[:n], pool.videos)
    assert out.labels[:n].tolist() == pool.labels.tolist() and out.labels[n:].tolist() == [k] * 5 + [k + 1] * 5
    frames = {f.tobytes(): (i, t) for i, v in enumerate(pool.videos) for t, f in enumerate(v)}
    for v in out.videos[n:n + 5]:                                          # static: one pool frame repeated
        assert v[0].tobytes() in frames and (v == v[0]).all()
    for v in out.videos[n + 5:]:                                           # shuffled: one video's frames, reordered
        src = [frames[f.tobytes()] for f in v]
        assert len({i for i, _ in src}) == 1 and sorted(t for _, t in src) == list(range(len(v)))
        assert [t for _, t in src] != list(range(len(v)))


def test_videomae_corruption_fine_tune_trains_two_more_classes_on_normalised_pixels(pool):
    cfg = bt.VideoMAEConfig(steps=1, finetune_steps=1, batch=2, corrupt_share=0.5, input_norm=True, depth=1)
    model, record, _ = bt.train_videomae(cfg, pool)
    assert model.head.out_features == record["config"]["num_classes"] == len(bt.classes()) + 2
    assert bt.VideoMAEConfig().corrupt_share == 0 and not bt.VideoMAEConfig().input_norm   # the default recipe


def test_videomae_preprocess_is_cd_fvds_at_224():
    from cdfvd.third_party.VideoMAEv2.utils import preprocess_videomae

    videos = np.random.default_rng(0).integers(0, 256, (2, 3, 32, 40, 3), dtype=np.uint8)
    torch.testing.assert_close(videomae.preprocess(videos, 224), preprocess_videomae(videos))


TOY = {"clip": {"steps": 2, "batch": 8, "caption_per_kind": 1},
       "videomae": {"steps": 2, "finetune_steps": 2, "batch": 2}, "i3d_rgb": {"steps": 2, "batch": 2},
       "raft": {"steps": 2, "batch": 2}, "i3d_flow": {"steps": 2, "batch": 2}}


def _train_toy(name, pool, out_dir):
    trainer = {"clip": bt.train_clip, "videomae": bt.train_videomae, "i3d_rgb": bt.train_i3d_rgb,
               "raft": bt.train_raft, "i3d_flow": bt.train_i3d_flow}[name]
    out = trainer(bt.TRAINERS[name](**TOY[name]), pool)
    model, record, log = out[0], out[-2], out[-1]
    return model, log, bt.save(model, name, out_dir, {**record, "command": "test"}, log)


@pytest.mark.parametrize("name", list(bt.TRAINERS))
def test_each_trainer_runs_saves_and_loads_strictly(name, pool, tmp_path, monkeypatch):
    monkeypatch.setattr(trained, "TRAINED_DIR", tmp_path)
    if name == "i3d_flow":
        with pytest.raises(InputError, match="train backbone raft"):             # it trains on the shipped RAFT's flow
            _train_toy(name, pool, tmp_path)
        _train_toy("raft", pool, tmp_path)
    model, log, rec = _train_toy(name, pool, tmp_path)
    assert {line["step"] for line in log.lines} == {0} and all(np.isfinite(line["loss"]) for line in log.lines)
    weights = tmp_path / trained.file_name(name)
    assert json.loads(weights.with_suffix(".json").read_text())["sha256"] == rec["sha256"]
    assert weights.with_suffix(".log.jsonl").read_text().count("\n") == len(log.lines)

    from flash_bench.features import raft_flow
    from flash_bench.scoring import FEATURISERS, Featurisers

    feat = Featurisers("tiny", geometry=V2)
    spec = next(f for f, s in FEATURISERS.items() if name in s.trained)
    assert f"sha{rec['sha256'][:12]}" in feat.key(spec)
    assert "suite-trained" in feat.describe(spec)["weights"]
    assert np.isfinite(feat.compute(spec, pool.videos[0])).all()
    built = feat.model(spec)
    built = {"clip": lambda: built.model,                                 # the ClipBackbone's open_clip model
             "raft": lambda: raft_flow.build("tiny", geometry=V2, share_frames=False)[0],   # torchvision's keys
             "i3d_flow": lambda: built[1]}.get(name, lambda: built)()
    for k, v in built.state_dict().items():                             # what was saved (fp16 floats) came back
        w = model.state_dict()[k]
        torch.testing.assert_close(v, w.half().float() if w.is_floating_point() else w)
    tag = trained.tag(FEATURISERS[spec].trained, V2, 0)                  # another geometry keeps random weights
    assert Featurisers("tiny", geometry=(16, 64)).key(spec) == feat.key(spec).replace(f"-{tag}-", "-seed0-")


def test_loading_refuses_wrong_keys_and_a_changed_file(tmp_path):
    from safetensors.torch import save_file

    model = torch.nn.Linear(2, 3)
    weights = tmp_path / "x.safetensors"
    save_file({"weight": torch.zeros(3, 2)}, str(weights))               # no bias
    from flash_bench.weights import sha256_of

    weights.with_suffix(".json").write_text(json.dumps({"sha256": sha256_of(weights)}))
    with pytest.raises(InputError, match="x.safetensors: does not fit its backbone"):
        trained.load_into(model, weights)
    save_file({"weight": torch.zeros(3, 2), "bias": torch.zeros(3)}, str(weights))
    with pytest.raises(InputError, match="sha256 differs"):
        trained.load_into(model, weights)


def _caption_retrieval(backbone, pool) -> float:
    """Top-1 retrieval of each video's clothing caption ("a person wearing red and blue.") among all of them."""
    captions = [bt.caption("", c, 1) for c in pool.colours]
    options = sorted(set(captions))
    text = backbone.encode_texts(options)
    return float(np.mean([options[int(np.argmax(backbone.encode_frames(v).mean(0) @ text.T))] == c
                          for v, c in zip(pool.videos, captions)]))


def test_shipped_v2_clip_retrieves_held_out_clothing_captions_better_than_random():
    if trained.path("clip", V2) is None:
        pytest.fail("flash_bench/trained/clip-tiny-v2.safetensors is not shipped: "
                    "run `flash-bench train backbone clip`")
    held_out = bt.render_pool(bt.PoolConfig(videos_per_action=2, random_videos=0), start=bt.HELD_OUT_START + 10)
    suite = _caption_retrieval(clip.build("tiny", geometry=V2), held_out)
    random = _caption_retrieval(clip.build("tiny"), held_out)
    assert suite >= random + 0.3, (suite, random)


def test_caption_pool_draws_the_renderers_variants_of_random_choreographies():
    from flash_bench.datasets import synthetic

    cap = bt.render_caption_pool(1)
    assert cap.prompts == [text for text, _ in synthetic.RANDOM_VARIANTS.values()]
    assert {bt.classes()[k] for k in cap.labels} == {synthetic.RANDOM_ACTION}     # no few-shot choreography
    i = list(synthetic.RANDOM_VARIANTS).index("cup")
    video, mask = synthetic.render(synthetic.VARIANT_ACTIONS[i], bt.CAPTION_POOL_START, num_frames=V2[0], size=V2[1])
    assert (cap.videos[i] == video).all() and (cap.masks[i] == mask).all()
    tokenizer = clip.CompactTokenizer([], 8)
    ids = set(tokenizer.bpe(bt.all_captions(cap), context_length=40).unique().tolist())
    for word in ("soccer", "ball", "cup", "balance", "beam", "canoe", "wood", "axe", "bucket", "water", "two",
                 "people"):                                   # the few-shot prompts' object words are in the captions
        assert set(tokenizer.bpe([word])[0, 1:2].tolist()) <= ids, word


def test_caption_pool_adds_the_hand_held_props_over_the_arms_reach():
    from flash_bench.datasets import synthetic

    cap = bt.render_caption_pool(1, reach_per_kind=2)
    n = len(synthetic.RANDOM_VARIANTS)
    assert len(cap.prompts) == n + 2 * len(synthetic.REACH_KINDS)
    assert cap.prompts[n:] == [synthetic.RANDOM_VARIANTS[k][0] for k in synthetic.REACH_KINDS for _ in range(2)]
    video = synthetic.render(synthetic.REACH_ACTIONS[1], bt.CAPTION_POOL_START + 1, num_frames=V2[0], size=V2[1])[0]
    assert (cap.videos[n + 3] == video).all()
    assert (cap.videos[:n] == bt.render_caption_pool(1).videos).all()       # the plain kinds unchanged


def test_caption_pool_adds_two_people_near_each_other():
    from flash_bench.datasets import synthetic

    cap = bt.render_caption_pool(1, reach_per_kind=1, near_per_kind=2)
    n = len(synthetic.RANDOM_VARIANTS) + len(synthetic.REACH_KINDS)
    assert cap.prompts[n:] == [synthetic.RANDOM_VARIANTS["two"][0]] * 2
    video = synthetic.render(synthetic.NEAR_ACTIONS[0], bt.CAPTION_POOL_START + 1, num_frames=V2[0], size=V2[1])[0]
    assert (cap.videos[n + 1] == video).all()
    assert (cap.videos[:n] == bt.render_caption_pool(1, reach_per_kind=1).videos).all()


def test_warp_moves_image1_along_the_flow_to_image2():
    image = torch.arange(64.0).view(1, 1, 1, 64).expand(1, 1, 8, 64).contiguous()   # value = x coordinate
    flow = torch.zeros(1, 2, 8, 64)
    flow[:, 0] = 3.0
    image1 = bt.warp(image, flow)                             # RAFT's flow: image1(p) = image2(p + flow(p))
    torch.testing.assert_close(image1[..., :61], image[..., 3:])
    assert image1[..., 61:].eq(63).all()                      # edges replicated


@pytest.mark.parametrize("name", ["clip", "i3d_rgb", "raft", "i3d_flow"])
def test_a_shipped_files_command_runs_the_recipe_recorded_with_it(name):
    """Defaults + the recorded command's options = the recorded training config (new options at their off value)."""
    from dataclasses import asdict

    path = trained.path(name, V2)
    assert path is not None, f"{trained.file_name(name)} is not shipped"
    rec = trained.record(path)
    words = rec["command"].split()
    options = {words[i][2:]: int(words[i + 1]) for i in range(len(words)) if words[i] in ("--steps", "--seed")}
    recipe = json.loads(json.dumps(asdict(bt.TRAINERS[name](**options))))
    assert {k: recipe[k] for k in rec["training"]} == rec["training"]
    assert not any(recipe[k] for k in set(recipe) - set(rec["training"]))   # caption pool etc. off


@pytest.mark.slow   # ~40 s CPU: 48 items x 6 variants featurised, 48 x 48 reference images
def test_shipped_v2_clip_retrieves_few_shot_prompts_at_3x_chance_and_keeps_the_other_clip_lines(tmp_path):
    """validate-metrics' own CLIP checks: 12-way prompt retrieval on the 48 ground-truth test videos at ≥ 3x chance
    (the pool-only CLIP of the first session: 18.75%; the seventh session's shipped seed 1: 41.67%; its seed 0 reaches
    issue 18's 50% but fails Temporal Consistency, docs/tiny_backbones.md),
    Image Alignment and Temporal Consistency passing. The CLIP never saw a few-shot choreography nor prompt."""
    from flash_bench.datasets.synthetic import SyntheticDataset
    from flash_bench.validate import validate_metrics

    assert trained.path("clip", V2) is not None, f"{trained.file_name('clip')} is not shipped"
    text, image, temporal = validate_metrics(SyntheticDataset(num_frames=V2[0], size=V2[1]),
                                             ["text_alignment", "image_alignment", "temporal_consistency"],
                                             cache_dir=tmp_path)
    assert (text.metric, image.metric, temporal.metric) == ("text_alignment", "image_alignment",
                                                            "temporal_consistency")
    assert text.statistic >= 3 * 100 / 12, text
    assert image.passed and temporal.passed, (image, temporal)


def test_clip_default_recipe_trains_on_every_caption_pool_kind_and_never_on_a_few_shot_prompt(pool):
    from flash_bench.datasets import synthetic

    cfg = bt.ClipConfig()
    assert cfg.caption_per_kind > 0 and cfg.reach_per_kind > 0 and cfg.near_per_kind > 0 and 0 < cfg.unknown_share < 1
    cap = bt.render_caption_pool(1, reach_per_kind=1, near_per_kind=1)
    assert sorted(set(cap.prompts)) == sorted(text for text, _ in synthetic.RANDOM_VARIANTS.values())   # incl. lying
    captions = {c.rstrip(".") for c in bt.all_captions(bt.concat(pool, cap))}
    few_shot = {spec.prompt.rstrip(".") for spec in synthetic.ACTIONS.values()}
    assert not any(c == p or c.startswith(p + ",") for c in captions for p in few_shot)


def test_move_figure_moves_the_figure_by_its_flow_over_the_scene():
    rng = np.random.default_rng(0)
    image = torch.from_numpy(rng.uniform(-1, 1, (1, 3, 24, 24))).float()
    mask = torch.zeros(1, 1, 24, 24)
    mask[..., 6:14, 8:13] = 1
    image1, image2, flow = bt.move_figure(image, mask, torch.eye(2)[None], torch.tensor([[3.0, -2.0]]))
    ys, xs = np.nonzero(mask[0, 0].numpy())
    torch.testing.assert_close(image2[0, :, ys - 2, xs + 3], image[0, :, ys, xs])   # figure pixel p at p + (3, −2)
    assert flow[0, 0][mask[0, 0] > 0].eq(3).all() and flow[0, 1][mask[0, 0] > 0].eq(-2).all()
    assert flow[:, :, mask[0, 0] == 0].eq(0).all() and image1 is image
    vacated = (slice(12, 14), slice(8, 11))                  # figure pixels in image1, scene in image2
    row_scene = (image[0, :, 12:14] * (1 - mask[0, :, 12:14])).sum(-1) / (1 - mask[0, :, 12:14]).sum(-1)
    torch.testing.assert_close(image2[0, :, vacated[0], vacated[1]], row_scene[..., None].expand(3, 2, 3))
    turn = torch.tensor([[[np.cos(0.3), -np.sin(0.3)], [np.sin(0.3), np.cos(0.3)]]]).float() * 1.1
    _, image2, flow = bt.move_figure(image, mask, turn, torch.tensor([[1.5, 0.5]]))
    c = torch.tensor([xs.mean(), ys.mean()]).float()         # a pixel's flow is where the affine map sends it
    p = torch.tensor([xs[7], ys[7]]).float()
    torch.testing.assert_close(flow[0, :, ys[7], xs[7]], c + turn[0] @ (p - c) + torch.tensor([1.5, 0.5]) - p)


def test_shipped_raft_finds_moved_figures_and_real_motion_better_than_zero_flow():
    """Held-out pool videos: the moved figure's EPE on its moving pixels ≤ 0.6 of zero flow's (0.45 on the record's
    40 videos, 0.42 here; random RAFT 1.23), and on consecutive real frames, frame t+1 warped back by the flow
    closer to frame t than frame t+1 itself (0.85 of the no-warp error here; random RAFT 1.29)."""
    from flash_bench.features import raft_flow

    if trained.path("raft", V2) is None:
        pytest.fail("flash_bench/trained/raft-tiny-v2.safetensors is not shipped: "
                    "run `flash-bench train backbone raft`")
    held_out = bt.render_pool(bt.PoolConfig(videos_per_action=1, random_videos=2), start=bt.HELD_OUT_START + 20)
    model, info = raft_flow.build("tiny", geometry=V2, share_frames=False)
    q = bt.raft_epe(model, held_out, bt.RaftConfig(updates=info["updates"]), info["size"])
    assert q["held_out_epe_moving"] <= 0.6 * q["held_out_epe_moving_zero_flow"], q
    assert q["real_pairs_photometric"] < 0.95 * q["real_pairs_photometric_no_warp"], q


def test_shipped_i3d_flow_recognises_held_out_pool_actions_from_the_shipped_rafts_flow():
    from flash_bench.features import i3d

    if trained.path("i3d_flow", V2) is None:
        pytest.fail("flash_bench/trained/i3d_flow-tiny-v2.safetensors is not shipped: "
                    "run `flash-bench train backbone i3d_flow`")
    held_out = bt.render_pool(bt.PoolConfig(videos_per_action=1, random_videos=2), start=bt.HELD_OUT_START + 20)
    flows = bt.pool_flows(held_out)[0].float()
    model, info = i3d.build("flow", "tiny", geometry=V2)
    assert "suite-trained" in info["weights"]
    with torch.inference_mode():
        pred = bt.i3d_flow_logits(model, flows).argmax(1).numpy()
    assert (pred == held_out.labels).mean() >= 0.6, pred     # 11 classes: chance 9% (92.5% on the record's 40)


def test_hide_verbs_turns_the_verb_into_one_to_three_unknown_ids_as_a_few_shot_prompts_unseen_verb_is(pool):
    """The verb after "is"/"are" becomes k ∈ {1, 2, 3} unknown ids: the same ids as a caption whose verb phrase is
    k words the vocabulary never saw — "two people are moving." with k = 3 is the few-shot prompt "two people are
    [hugging] [each] [other]."; a caption without "is"/"are", and a share of 0, leave the tokens as they were."""
    from flash_bench.datasets import synthetic

    captions = bt.all_captions(bt.concat(pool, bt.render_caption_pool(1)))
    bpe = clip.CompactTokenizer([], 24).bpe
    tokenizer = clip.CompactTokenizer(bpe(captions, context_length=24).unique().tolist(), 24)
    after, ends = bt.verb_tokens(tokenizer)
    prompt = synthetic.ACTIONS["hugging_human"].prompt
    unseen = prompt.rstrip(".").split()[-3:]                  # hugging each other: one BPE token each, in no caption
    assert unseen == ["hugging", "each", "other"] and not set(bpe(unseen)[:, 1].tolist()) & set(tokenizer.ids)
    texts = ["a person is clapping their hands.", "two people are moving.", "a person wearing red."]
    tokens, seen = tokenizer(texts), set()
    for seed in range(12):
        hidden = bt.hide_verbs(tokens, after, ends, 1.0, 3, np.random.default_rng(seed))
        k0, k1 = (int((row == 1).sum()) for row in hidden[:2])
        seen |= {k0, k1}
        expected = tokenizer([f"a person is {' '.join(unseen[:k0])} their hands.",
                              f"two people are {' '.join(unseen[:k1])}.", texts[2]])
        assert torch.equal(hidden, expected), seed
        if k1 == 3:
            assert torch.equal(hidden[1], tokenizer([prompt])[0])
    assert seen == {1, 2, 3}
    assert torch.equal(bt.hide_verbs(tokens, after, ends, 0.0, 3, np.random.default_rng(0)), tokens)


def test_clip_trains_on_the_mean_of_several_frames_at_a_larger_input(pool):
    model, tokenizer, record, _ = bt.train_clip(bt.ClipConfig(steps=1, batch=4, caption_per_kind=1, clip_frames=3,
                                                              vision={**bt.ClipConfig().vision, "image_size": 64}),
                                                pool)
    assert record["config"]["model_cfg"]["vision_cfg"]["image_size"] == 64
    assert record["config"]["unknown_ids"] == tokenizer.unknown_ids == bt.ClipConfig().unknown_ids


def test_hidden_verbs_use_every_unknown_id():
    tokenizer = clip.CompactTokenizer(clip.CompactTokenizer([], 24).bpe(["a person is walking."])[0].tolist(), 24, 16)
    after, ends = bt.verb_tokens(tokenizer)
    tokens = tokenizer(["a person is walking."] * 256)
    hidden = bt.hide_verbs(tokens, after, ends, 1.0, 3, np.random.default_rng(0), 16)[:, 4]    # the verb's first id
    assert set(hidden.tolist()) == set(range(1, 17))


def test_clip_default_recipe_hides_verbs_in_training(pool, monkeypatch):
    calls = []
    hide = bt.hide_verbs
    monkeypatch.setattr(bt, "hide_verbs", lambda tokens, *a: calls.append(tokens) or hide(tokens, *a))
    bt.train_clip(bt.ClipConfig(steps=2, batch=8, caption_per_kind=1), pool)
    assert len(calls) == 2 and bt.ClipConfig().verb_share > 0


def test_train_backbone_cli_leaves_the_seed_to_the_recipe_unless_given(monkeypatch):
    import typer
    from typer.testing import CliRunner

    from flash_bench.cli import backbones

    seen = []
    monkeypatch.setattr(bt, "train_backbone", lambda name, command, out_dir, overrides, **_: seen.append(
        (command, overrides)) or {"parameters": 1, "sha256": "0" * 64, "train_seconds": 0, "torch_threads": 1,
                                  "quality": {}})
    app = typer.Typer()
    app.command()(backbones.train_backbone)
    for args in (["clip"], ["clip", "--seed", "0"]):
        assert CliRunner().invoke(app, args).exit_code == 0
    assert seen == [("flash-bench train backbone clip", {}), ("flash-bench train backbone clip --seed 0", {"seed": 0})]


def test_every_shipped_backbone_was_trained_with_its_default_recipe():
    """The default ``flash-bench train backbone NAME`` retrains the shipped file: the record's training block (the
    full config, seed included) equals the trainer's default config."""
    from dataclasses import asdict

    shipped = [n for n in bt.TRAINERS if (bt.TRAINED_DIR / bt.file_name(n)).exists()]
    assert "clip" in shipped
    for name in shipped:
        record = json.loads((bt.TRAINED_DIR / bt.file_name(name)).with_suffix(".json").read_text())
        assert record["training"] == json.loads(json.dumps(asdict(bt.TRAINERS[name]()))), name

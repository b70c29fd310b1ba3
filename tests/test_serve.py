"""``zoo serve``: TF Serving's REST API, the upload endpoint (same figures as ``zoo predict``), refusals, the token,
batching, metrics, SIGTERM with requests in flight, and the page in a real headless Chromium.

One tiny mnist-mlp run (1 epoch on 2,000 images, float32 and int8 TFLite) is
trained for the module. Most tests call the app in-process through
Starlette's TestClient; SIGTERM and the page use a real ``zoo serve``
process on a free port.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import os
import re
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pytest
from PIL import Image

from conftest import run_cli, subprocess_env, zoo_executable
from zoo_core.serve import ServeSettings, create_app, served_models
from zoo_core.serve.batching import Batcher

pytestmark = [pytest.mark.slow,
              pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`")]  # Starlette >= 1.x

MNIST = Path(__file__).resolve().parents[1] / "plugins" / "zoo_plugins" / "datasets" / "mnist.npz"
TINY = ["--set", "epochs=1", "--set", "max_train_samples=2000", "--set", "max_test_samples=300",
        "--set", 'exporters=["tflite", "tflite-int8"]', "--quiet"]
CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A completed tiny mnist-mlp run, a few test digits as PNGs (with labels) and their pixels."""
    runs_dir = tmp_path_factory.mktemp("runs")
    result = run_cli("run", "mnist-mlp", "--runs-dir", str(runs_dir), *TINY)
    assert result.exit_code == 0, result.output
    (run,) = runs_dir.iterdir()
    folder = tmp_path_factory.mktemp("digits")
    with np.load(MNIST) as data:
        images, labels = data["x_test"][:40], data["y_test"][:40]
    pngs = []
    for index in range(len(images)):
        path = folder / f"digit-{index}-{labels[index]}.png"
        Image.fromarray(images[index]).save(path)
        pngs.append((path, int(labels[index])))
    return {"runs_dir": runs_dir, "run": run, "pngs": pngs, "images": images, "labels": labels}


@pytest.fixture(scope="module")
def models(trained: dict[str, Any]) -> list:
    return served_models([f"mnist-mlp={trained['run']}"], trained["runs_dir"])


@contextmanager
def client(models: list, **settings: Any) -> Iterator[Any]:
    from starlette.testclient import TestClient

    with TestClient(create_app(models, ServeSettings(**settings)), raise_server_exceptions=False) as test_client:
        yield test_client


def instances(trained: dict[str, Any], count: int) -> list:
    return (trained["images"][:count] / 255.0).tolist()


# -- TF Serving's REST API ---------------------------------------------------------


def test_a_run_is_served_as_its_verified_int8_tflite_unless_told(models: list, trained: dict[str, Any]) -> None:
    (model,) = models
    assert model.name == "mnist-mlp" and model.format == "tflite-int8"
    assert model.card["formats"] == ["tflite-int8", "tflite-float32", "keras"]
    assert 0.5 < model.card["accuracy"] <= 1 and model.card["size_bytes"] > 50_000
    (float_model,) = served_models([str(trained["run"])], trained["runs_dir"], "tflite-float32")
    assert float_model.format == "tflite-float32" and float_model.name == trained["run"].name
    one, other = served_models([f"one={trained['run']}", f"other={trained['run']}"], trained["runs_dir"],
                               ["tflite-float32", "other=keras"])  # every run, then one model by its name
    assert (one.format, other.format) == ("tflite-float32", "keras")
    from zoo_core.errors import ConfigError

    with pytest.raises(ConfigError, match="has no verified savedmodel export"):
        served_models([str(trained["run"])], trained["runs_dir"], "savedmodel")
    with pytest.raises(ConfigError, match="names no served model"):
        served_models([str(trained["run"])], trained["runs_dir"], ["nosuch=keras"])


def test_tf_serving_status_metadata_and_both_predict_formats(models: list, trained: dict[str, Any]) -> None:
    with client(models) as http:
        status = http.get("/v1/models/mnist-mlp").json()
        assert status["model_version_status"][0]["state"] == "AVAILABLE"
        metadata = http.get("/v1/models/mnist-mlp/metadata").json()
        signature = metadata["metadata"]["signature_def"]["signature_def"]["serving_default"]
        dims = [dim["size"] for dim in signature["inputs"]["image"]["tensor_shape"]["dim"]]
        assert dims == ["-1", "28", "28"]
        assert metadata["zoo"]["class_names"] == [str(digit) for digit in range(10)]
        assert metadata["zoo"]["input"]["input_shape"] == [28, 28] and metadata["zoo"]["input"]["channels"] == 1
        assert metadata["zoo"]["input"]["scale"] == pytest.approx(1 / 255)

        rows = instances(trained, 3)
        expected = models[0].predictor.predict(np.array(rows, dtype=np.float32))
        answer = http.post("/v1/models/mnist-mlp:predict", json={"instances": rows})
        assert answer.status_code == 200 and list(answer.json()) == ["predictions"]
        np.testing.assert_allclose(answer.json()["predictions"], expected, atol=1e-6)
        named = http.post("/v1/models/mnist-mlp:predict", json={"instances": [{"image": row} for row in rows]})
        np.testing.assert_allclose(named.json()["predictions"], expected, atol=1e-6)
        columnar = http.post("/v1/models/mnist-mlp:predict", json={"inputs": {"image": rows}})
        assert list(columnar.json()) == ["outputs"]
        np.testing.assert_allclose(columnar.json()["outputs"], expected, atol=1e-6)
        assert http.get("/healthz").json() == {"status": "ok", "models": ["mnist-mlp"]}


def test_an_upload_gets_the_same_figures_as_zoo_predict(models: list, trained: dict[str, Any]) -> None:
    model_file = models[0].card["path"]
    with client(models) as http:
        for path, label in trained["pngs"][:3]:
            predicted = run_cli("predict", model_file, str(path), "--json", "-k", "4")
            assert predicted.exit_code == 0, predicted.output
            (expected,) = json.loads(predicted.stdout)
            answer = http.post("/models/mnist-mlp/top-classes?k=4", content=path.read_bytes(),
                               headers={"Content-Type": "image/png"})
            assert answer.status_code == 200, answer.text
            (top,) = answer.json()["top_classes"]
            assert top == expected["top"]  # same classes, same probabilities, same order


def test_a_form_upload_and_a_webp_by_its_bytes_get_the_figures_of_a_raw_upload(models: list,
                                                                                  trained: dict[str, Any]) -> None:
    """``curl -F file=@digit.png`` sends multipart/form-data; a WebP sent as application/octet-stream is known by
    its bytes."""
    from PIL import Image

    path, _ = trained["pngs"][0]
    webp = io.BytesIO()
    Image.open(path).save(webp, format="WEBP", lossless=True)
    with client(models) as http:
        raw = http.post("/models/mnist-mlp/top-classes?k=3", content=path.read_bytes(),
                        headers={"Content-Type": "image/png"})
        form = http.post("/models/mnist-mlp/top-classes?k=3", files={"file": ("digit.png", path.read_bytes(),
                                                                             "image/png")})
        bytes_only = http.post("/models/mnist-mlp/top-classes?k=3", content=webp.getvalue(),
                               headers={"Content-Type": "application/octet-stream"})
        no_file = http.post("/models/mnist-mlp/top-classes", files={"note": (None, "hello"), "other": (None, "x")})
        empty_form = http.post("/models/mnist-mlp/top-classes", files={"file": ("digit.png", b"", "image/png")})
    assert raw.status_code == form.status_code == bytes_only.status_code == 200, (form.text, bytes_only.text)
    assert form.json()["top_classes"] == raw.json()["top_classes"] == bytes_only.json()["top_classes"]
    assert no_file.status_code == 400 and "the form holds 2 field(s) and no file" in no_file.json()["error"]
    assert "curl -F file=@photo.jpg" in no_file.json()["hint"]
    assert empty_form.status_code == 400 and "the body is empty" in empty_form.json()["error"]


@pytest.fixture(scope="module")
def feature_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An untrained 4-feature, 3-class Keras model with per-feature normalisation in its sidecar contract."""
    import keras

    from zoo_core.data import DatasetInfo

    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input(shape=(4,), name="features"), keras.layers.Dense(3, activation="softmax")])
    path = tmp_path_factory.mktemp("features") / "flowers.keras"
    model.save(path)
    info = DatasetInfo(name="flowers", input_shape=(4,), num_classes=3, class_names=["a", "b", "c"], image=False,
                       raw_value_range=(0.0, 10.0), value_range=(-5.0, 5.0), feature_names=["w", "x", "y", "z"],
                       feature_mean=[5.0, 3.0, 4.0, 1.0], feature_std=[1.0, 0.5, 2.0, 0.8])
    path.with_suffix(".json").write_text(json.dumps({"input": info.to_dict(), "class_names": ["a", "b", "c"]}))
    return path


def test_csv_rows_of_raw_features_get_the_same_figures_as_zoo_predict(feature_model: Path, tmp_path: Path) -> None:
    rows = tmp_path / "rows.csv"
    rows.write_text("w,x,y,z\n5.1,3.5,1.4,0.2\n6.7,3.0,5.2,2.3\n")
    predicted = run_cli("predict", str(feature_model), str(rows), "--json", "-k", "3")
    assert predicted.exit_code == 0, predicted.output
    expected = [entry["top"] for entry in json.loads(predicted.stdout)]
    with client(served_models([f"flowers={feature_model}"], tmp_path)) as http:
        answer = http.post("/models/flowers/top-classes?k=3", content=rows.read_bytes(),
                           headers={"Content-Type": "text/csv"})
        assert answer.status_code == 200, answer.text
        assert answer.json()["top_classes"] == expected and len(expected) == 2
        array = io.BytesIO()
        np.save(array, np.array([[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]))
        as_npy = http.post("/models/flowers/top-classes?k=3", content=array.getvalue())  # known by its bytes
        assert as_npy.status_code == 200 and as_npy.json()["top_classes"] == expected, as_npy.text
        short = http.post("/models/flowers/top-classes", content=b"1,2,3\n", headers={"Content-Type": "text/csv"})
        assert short.status_code == 400 and "the upload" in short.json()["error"], short.text
        image = http.post("/models/flowers/top-classes", content=b"\x89PNG", headers={"Content-Type": "image/png"})
        assert image.status_code == 400 and "takes feature vectors" in image.json()["error"], image.text


# -- refusals --------------------------------------------------------------------

GOOD = [[0.0] * 28] * 28
BAD_REQUESTS = {
    "unknown model": ("/v1/models/nosuch:predict", {"instances": [GOOD]}, 404, "no model named 'nosuch'"),
    "wrong shape": ("/v1/models/mnist-mlp:predict", {"instances": [[1.0, 2.0]]}, 400, "has shape (1, 2)"),
    "strings": ("/v1/models/mnist-mlp:predict", {"instances": [[["a"] * 28] * 28]}, 400, "strings, not numbers"),
    "nulls": ("/v1/models/mnist-mlp:predict", {"instances": [[[None] * 28] * 28]}, 400, "not numbers"),
    "ragged": ("/v1/models/mnist-mlp:predict", {"instances": [GOOD, [[0.0] * 27] * 28]}, 400, "not a regular array"),
    "NaN": ("/v1/models/mnist-mlp:predict", b'{"instances": [[' + b",".join([b"[" + b",".join([b"NaN"] * 28) + b"]"]
                                                                             * 28) + b"]]}", 400, "NaN or infinite"),
    "too large for float32": ("/v1/models/mnist-mlp:predict", {"inputs": [[[1e39] * 28] * 28]}, 400, "NaN or infinite"),
    "both formats": ("/v1/models/mnist-mlp:predict", {"instances": [GOOD], "inputs": [GOOD]}, 400, "both of"),
    "not JSON": ("/v1/models/mnist-mlp:predict", b"{instances: oops", 400, "not valid JSON: "),
    "not an object": ("/v1/models/mnist-mlp:predict", [GOOD], 400, "not an object"),
    "another signature": ("/v1/models/mnist-mlp:predict", {"signature_name": "x", "instances": [GOOD]}, 400, "'x'"),
    "undecodable image": ("/models/mnist-mlp/top-classes", (b"\x89PNG\r\n\x1a\nbroken", "image/png"), 400,
                          "the upload is not an image"),
    "CSV for an image model": ("/models/mnist-mlp/top-classes", (b"1,2,3\n", "text/csv"), 400, "not CSV rows"),
    "unread type": ("/models/mnist-mlp/top-classes", (b"{}", "application/json"), 415, "'application/json'"),
    "bad k": ("/models/mnist-mlp/top-classes?k=zero", (b"x", "image/png"), 400, "k='zero'"),
    "body over the limit": ("/v1/models/mnist-mlp:predict", {"instances": [GOOD] * 40}, 413, "larger than the server"),
    "unknown endpoint": ("/v1/models/mnist-mlp:classify", {}, 405, "not allowed"),
}


def test_every_bad_request_gets_its_4xx_and_the_server_goes_on(models: list, trained: dict[str, Any]) -> None:
    with client(models, max_body_bytes=40_000) as http:
        for what, (path, body, status, fragment) in BAD_REQUESTS.items():
            if isinstance(body, tuple):
                answer = http.post(path, content=body[0], headers={"Content-Type": body[1]})
            elif isinstance(body, bytes):
                answer = http.post(path, content=body, headers={"Content-Type": "application/json"})
            else:
                answer = http.post(path, json=body)
            assert answer.status_code == status, f"{what}: {answer.status_code} {answer.text}"
            assert fragment in answer.json()["error"], f"{what}: {answer.json()}"
            assert "Traceback" not in answer.text and "/tmp" not in answer.json()["error"], what
        good = http.post("/v1/models/mnist-mlp:predict", json={"instances": instances(trained, 1)})
        assert good.status_code == 200 and len(good.json()["predictions"][0]) == 10
        metrics = http.get("/metrics").text
    assert 'zoo_serve_errors_total{code="400",endpoint="predict",model="mnist-mlp"} 10.0' in metrics
    assert 'zoo_serve_requests_total{code="404",endpoint="predict",model=""} 1.0' in metrics
    assert 'zoo_serve_request_seconds_count{endpoint="predict",model="mnist-mlp"}' in metrics
    assert 'zoo_serve_batch_examples_count{model="mnist-mlp"} 1.0' in metrics


def test_the_token_is_required_everywhere_but_the_page_and_healthz(models: list, trained: dict[str, Any]) -> None:
    with client(models, token="s3cret") as http:
        body = {"instances": instances(trained, 1)}
        assert http.post("/v1/models/mnist-mlp:predict", json=body).status_code == 401
        wrong = http.post("/v1/models/mnist-mlp:predict", json=body, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401 and wrong.json()["error"] == "the token is wrong"
        assert http.get("/metrics").status_code == 401 and http.get("/models").status_code == 401
        right = http.post("/v1/models/mnist-mlp:predict", json=body, headers={"Authorization": "Bearer s3cret"})
        assert right.status_code == 200
        assert http.get("/").status_code == 200 and http.get("/healthz").status_code == 200


# -- batching --------------------------------------------------------------------


def test_concurrent_requests_are_batched_up_to_the_maximum() -> None:
    calls: list[int] = []

    def predict(x: np.ndarray) -> np.ndarray:
        calls.append(len(x))
        time.sleep(0.01)
        return x.sum(axis=1, keepdims=True)

    async def burst(max_batch: int) -> list[np.ndarray]:
        batcher = Batcher("m", predict, max_batch=max_batch, max_wait=0.05)
        batcher.start()
        try:
            return await asyncio.gather(*(batcher.predict(np.full((1, 3), float(i))) for i in range(20)))
        finally:
            await batcher.stop()

    answers = asyncio.run(burst(8))
    assert [float(answer[0, 0]) for answer in answers] == [3.0 * i for i in range(20)]  # each its own answer
    assert calls == [8, 8, 4]
    calls.clear()
    asyncio.run(burst(1))
    assert calls == [1] * 20


# -- a real server -----------------------------------------------------------------


@contextmanager
def zoo_serve(*args: str) -> Iterator[tuple[str, subprocess.Popen]]:
    """A ``zoo serve ARGS --port 0`` process and its URL; stopped at the end if still running."""
    process = subprocess.Popen([zoo_executable(), "serve", *args, "--port", "0"], env=subprocess_env(),
                               stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = process.stderr.readline()
            lines.append(line)
            found = re.search(r"serving at (http://\S+?):? ", line)
            if found:
                break
            if not line and process.poll() is not None:
                pytest.fail("zoo serve stopped:\n" + "".join(lines))
        else:
            pytest.fail("zoo serve did not start in 60 s:\n" + "".join(lines))
        threading.Thread(target=process.stderr.read, daemon=True).start()  # keep the pipe drained
        yield found.group(1), process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)


def post(url: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_sigterm_finishes_the_requests_in_flight(trained: dict[str, Any]) -> None:
    # Requests wait up to 1.5 s for a batch: SIGTERM arrives while all of them are in flight.
    with zoo_serve(f"tiny={trained['run']}", "--max-wait-ms", "1500", "--max-batch", "64") as (url, process):
        results: list[tuple[int, dict]] = []
        body = {"instances": instances(trained, 1)}
        threads = [threading.Thread(target=lambda: results.append(post(f"{url}/v1/models/tiny:predict", body)))
                   for _ in range(6)]
        for thread in threads:
            thread.start()
        time.sleep(0.5)
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        for thread in threads:
            thread.join(30)
        assert process.wait(30) in (0, -signal.SIGTERM)
        assert time.monotonic() - started < 20
    assert [status for status, _ in results] == [200] * 6
    assert all(len(answer["predictions"][0]) == 10 for _, answer in results)
    with pytest.raises(urllib.error.URLError):  # and it no longer listens
        post(f"{url}/v1/models/tiny:predict", body)


def test_without_the_extra_zoo_serve_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    from zoo_core.serve import requirements

    monkeypatch.setattr(requirements, "missing_modules", lambda: ["starlette", "uvicorn"])
    result = run_cli("serve", "mnist-mlp")
    assert result.exit_code == 2
    assert "pip install 'zoo[serve]'" in result.stderr and "Traceback" not in result.stderr


# -- the page, in Debian's Chromium ----------------------------------------------------


#: A drop of a PNG (given as base64) on the page's drop zone, as a user's drag and drop makes it.
DROP = """
const bytes = Uint8Array.from(atob(arguments[0]), (c) => c.charCodeAt(0));
const transfer = new DataTransfer();
transfer.items.add(new File([bytes], "digit.png", {type: "image/png"}));
document.getElementById("drop").dispatchEvent(new DragEvent("drop", {dataTransfer: transfer, bubbles: true,
                                                                     cancelable: true}));
"""


def test_the_page_lists_the_model_and_names_a_dropped_digit(trained: dict[str, Any], tmp_path: Path) -> None:
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):  # .ci/run installs them: a fail, never a silent skip
        pytest.fail("the page test needs Debian's Chromium: apt-get install chromium chromium-driver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1100,700"):
        options.add_argument(flag)
    path, label = trained["pngs"][0]
    with zoo_serve(f"mnist-mlp={trained['run']}", "--token", "page-token") as (url, _):
        browser = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
        try:
            browser.get(f"{url}/#token=page-token")
            wait = WebDriverWait(browser, 20)
            card = wait.until(expected_conditions.presence_of_element_located((By.CSS_SELECTOR, ".model.chosen")))
            assert "mnist-mlp" in card.text and "tflite-int8" in card.text and "accuracy 0." in card.text
            browser.execute_script(DROP, base64.b64encode(path.read_bytes()).decode())  # a PNG dropped on the page
            top = wait.until(expected_conditions.presence_of_element_located((By.ID, "top-class")))
            assert top.text == str(label)
            assert len(browser.find_elements(By.CSS_SELECTOR, "#answer .bar")) == 5
            other, other_label = next((png, digit) for png, digit in trained["pngs"] if digit != label)
            browser.find_element(By.ID, "file").send_keys(str(other))  # and one chosen with the file input
            wait.until(lambda _: browser.find_element(By.ID, "top-class").text == str(other_label))
            screenshot = tmp_path / "page.png"
            assert browser.save_screenshot(str(screenshot))
        finally:
            browser.quit()
    with Image.open(screenshot) as image:
        pixels = np.asarray(image.convert("RGB"))
    assert pixels.shape[0] > 300 and pixels.shape[1] > 600
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 20  # drawn, not blank
    assert os.path.getsize(screenshot) > 10_000

"""
### kie_image_to_video: animate product photos, then restyle one clip with Aleph

What it shows:

- **image-to-video** from local files: each product image in `dags/assets/products/` (or the `images_dir`
  Param) is uploaded through KIE's File Upload API by `RunwayGenerateOperator(image=<path>)`, then animated;
  the aspect ratio follows the image;
- **video-to-video**: `RunwayAlephOperator` restyles the first animated clip; its stored MP4 is a local file,
  so it is uploaded the same way;
- every output stored under `<output_root>/products/<YYYY-MM-DD>/`.

Needs: the `kie_default` connection (its upload host serves the uploads) and the `kie` pool. Params:
`images_dir`, `motion_prompt`, `style_prompt`, `output_root`, `poll_interval`. No Variables are needed.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from airflow.sdk import DAG, Param, task

from airflow_provider_kie.operators.runway import RunwayAlephOperator, RunwayGenerateOperator
from airflow_provider_kie.params import poll_interval_param

DEFAULT_IMAGES_DIR = str(Path(__file__).parent / "assets" / "products")
OUTPUT_DIR = "{{ params.output_root }}/products/{{ data_interval_start | ds }}"

with DAG(
    dag_id="kie_image_to_video",
    description="Animate local product images with KIE Runway, then restyle one clip with Aleph",
    schedule="0 7 * * 1",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    tags=["kie", "video", "image-to-video", "aleph"],
    doc_md=__doc__,
    params={
        "images_dir": Param(
            DEFAULT_IMAGES_DIR, type="string", description="Folder of .png/.jpg product images"
        ),
        "motion_prompt": Param(
            "The {product} slowly rotates on a turntable, soft studio light, gentle reflections",
            type="string",
            description="{product} is replaced by the image's file name",
        ),
        "style_prompt": Param("Restyle as a hand-painted watercolour animation, warm palette", type="string"),
        "output_root": Param("output", type="string"),
        "poll_interval": poll_interval_param(),
    },
) as dag:

    @task
    def list_images(params: dict[str, Any]) -> list[dict[str, Any]]:
        """One animation per image file, named after the product."""
        images = sorted(
            p for p in Path(params["images_dir"]).iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg")
        )
        if not images:
            raise ValueError(f"images_dir: no .png/.jpg files in {params['images_dir']}")
        return [
            {
                "image": str(path),
                "prompt": params["motion_prompt"].format(product=path.stem.replace("-", " ")),
                "output_name": path.stem,
            }
            for path in images
        ]

    animate = RunwayGenerateOperator.partial(
        task_id="animate",
        aspect_ratio=None,  # image-to-video: the image decides
        output_dir=OUTPUT_DIR,
        poll_interval="{{ params.poll_interval }}",
        deferrable=True,
        pool="kie",
        retries=2,
    ).expand_kwargs(list_images())

    restyle = RunwayAlephOperator(
        task_id="restyle",
        video="{{ ti.xcom_pull(task_ids='animate', map_indexes=0)['video_path'] }}",
        prompt="{{ params.style_prompt }}",
        aspect_ratio="16:9",
        output_dir=OUTPUT_DIR,
        output_name="{{ ti.xcom_pull(task_ids='list_images')[0]['output_name'] }}-restyled",
        poll_interval="{{ params.poll_interval }}",
        deferrable=True,
        pool="kie",
        retries=2,
    )
    animate >> restyle

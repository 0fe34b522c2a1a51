/**
 * Human view of the simulation: a three.js scene that mirrors every MuJoCo geom of a
 * World each frame (MuJoCo is Z-up, three.js Y-up: one root group rotated -90 degrees
 * about X carries the whole scene), orbit controls, playback of an episode record or a
 * live rollout at real time or faster, and the policy's own camera images beside it.
 */
import * as THREE from 'three';
import { OrbitControls } from 'three/examples/jsm/controls/OrbitControls.js';
import { GEOM_TYPES } from '../camera/types';
import { CONTROL_HZ } from '../scene';
import type { World } from '../world';

export interface ViewerOptions {
  /** Where the policy camera images are drawn (one canvas per camera); optional. */
  imagePanel?: HTMLElement;
  background?: number;
}

function geometryFor(type: number, size: Float64Array, g: number): THREE.BufferGeometry | null {
  const [a, b, c] = [size[3 * g], size[3 * g + 1], size[3 * g + 2]];
  switch (type) {
    case GEOM_TYPES.box:
      return new THREE.BoxGeometry(2 * a, 2 * b, 2 * c);
    case GEOM_TYPES.sphere:
      return new THREE.SphereGeometry(a, 20, 14);
    case GEOM_TYPES.capsule:
      // three's capsule axis is Y; MuJoCo's is Z.
      return new THREE.CapsuleGeometry(a, 2 * b, 6, 16).rotateX(Math.PI / 2);
    case GEOM_TYPES.cylinder:
      return new THREE.CylinderGeometry(a, a, 2 * b, 24).rotateX(Math.PI / 2);
    case GEOM_TYPES.plane:
      return new THREE.PlaneGeometry(4, 4);
    default:
      return null;
  }
}

export class SimViewer {
  readonly renderer: THREE.WebGLRenderer;
  readonly scene = new THREE.Scene();
  readonly camera: THREE.PerspectiveCamera;
  readonly controls: OrbitControls;
  private readonly root = new THREE.Group();
  private meshes: Array<THREE.Mesh | null> = [];
  private world: World | null = null;
  private imageCanvases: HTMLCanvasElement[] = [];
  private raf = 0;

  constructor(
    readonly canvas: HTMLCanvasElement,
    private readonly opts: ViewerOptions = {},
  ) {
    this.renderer = new THREE.WebGLRenderer({ canvas, antialias: true, preserveDrawingBuffer: true });
    this.renderer.setPixelRatio(globalThis.devicePixelRatio ?? 1);
    this.renderer.setSize(canvas.clientWidth || canvas.width, canvas.clientHeight || canvas.height, false);
    this.renderer.shadowMap.enabled = true;
    this.scene.background = new THREE.Color(opts.background ?? 0x8c9eb3);
    this.camera = new THREE.PerspectiveCamera(45, (canvas.clientWidth || canvas.width) / (canvas.clientHeight || canvas.height), 0.01, 20);
    // A front view: MuJoCo (1.1, 0, 0.8) -> three (x, z, -y).
    this.camera.position.set(1.1, 0.8, 0);
    this.controls = new OrbitControls(this.camera, canvas);
    this.controls.target.set(-0.15, 0.05, 0);
    this.controls.update();
    this.root.rotation.x = -Math.PI / 2;
    this.scene.add(this.root);
    this.scene.add(new THREE.AmbientLight(0xffffff, 0.7));
    const sun = new THREE.DirectionalLight(0xffffff, 1.6);
    sun.position.set(0.6, 1.5, 0.5);
    sun.castShadow = true;
    this.scene.add(sun);
  }

  /** Shows a world: builds one mesh per geom (call again when the model changes). */
  setWorld(world: World): void {
    for (const m of this.meshes) if (m) this.root.remove(m);
    this.world = world;
    const m = world.physics.model;
    const type = m.geom_type as Int32Array;
    const size = m.geom_size as Float64Array;
    const rgba = m.geom_rgba as Float32Array;
    this.meshes = [];
    for (let g = 0; g < m.ngeom; g++) {
      const geo = rgba[4 * g + 3] > 0 ? geometryFor(type[g], size, g) : null;
      if (!geo) {
        this.meshes.push(null);
        continue;
      }
      const mat = new THREE.MeshLambertMaterial({ color: new THREE.Color(rgba[4 * g], rgba[4 * g + 1], rgba[4 * g + 2]) });
      const mesh = new THREE.Mesh(geo, mat);
      mesh.matrixAutoUpdate = false;
      mesh.castShadow = type[g] !== GEOM_TYPES.plane;
      mesh.receiveShadow = true;
      this.root.add(mesh);
      this.meshes.push(mesh);
    }
    this.sync();
  }

  /** Copies geom poses from MuJoCo into the meshes. */
  sync(): void {
    if (!this.world) return;
    const d = this.world.physics.data;
    const xpos = d.geom_xpos as Float64Array;
    const xmat = d.geom_xmat as Float64Array;
    const mtx = new THREE.Matrix4();
    for (let g = 0; g < this.meshes.length; g++) {
      const mesh = this.meshes[g];
      if (!mesh) continue;
      const r = xmat.subarray(9 * g, 9 * g + 9);
      mtx.set(r[0], r[1], r[2], xpos[3 * g], r[3], r[4], r[5], xpos[3 * g + 1], r[6], r[7], r[8], xpos[3 * g + 2], 0, 0, 0, 1);
      mesh.matrix.copy(mtx);
      mesh.matrixWorldNeedsUpdate = true;
    }
  }

  render(): void {
    this.sync();
    this.controls.update();
    this.renderer.render(this.scene, this.camera);
  }

  /** Draws the policy's camera images (RGB, H*W*3) into the image panel. */
  showImages(images: Uint8Array[], width: number, height: number): void {
    const panel = this.opts.imagePanel;
    if (!panel) return;
    while (this.imageCanvases.length < images.length) {
      const c = document.createElement('canvas');
      c.width = width;
      c.height = height;
      c.style.width = '192px';
      c.style.imageRendering = 'pixelated';
      panel.appendChild(c);
      this.imageCanvases.push(c);
    }
    images.forEach((img, i) => {
      const c = this.imageCanvases[i];
      const ctx = c.getContext('2d');
      if (!ctx) return;
      const data = ctx.createImageData(width, height);
      for (let p = 0; p < width * height; p++) {
        data.data[4 * p] = img[3 * p];
        data.data[4 * p + 1] = img[3 * p + 1];
        data.data[4 * p + 2] = img[3 * p + 2];
        data.data[4 * p + 3] = 255;
      }
      ctx.putImageData(data, 0, 0);
    });
  }

  /**
   * Plays a rollout: `advance()` performs one 20 Hz control step (replaying recorded
   * actions or querying a policy) and returns false when the episode is over. Runs at
   * `speed` times real time; resolves when done or stopped.
   */
  play(advance: () => Promise<boolean> | boolean, speed = 1): Promise<void> {
    this.stop();
    const period = 1000 / (CONTROL_HZ * speed);
    let last = performance.now();
    let busy = false;
    return new Promise((resolve) => {
      const tick = async () => {
        this.raf = requestAnimationFrame(tick);
        const now = performance.now();
        if (!busy && now - last >= period) {
          busy = true;
          // Catch up when the display is slower than the control rate times the speed.
          const n = Math.max(1, Math.min(20, Math.floor((now - last) / period)));
          last = now;
          let more = true;
          for (let i = 0; i < n && more; i++) more = await advance();
          busy = false;
          if (!more) {
            this.stop();
            this.render();
            resolve();
            return;
          }
        }
        this.render();
      };
      this.raf = requestAnimationFrame(tick);
    });
  }

  stop(): void {
    if (this.raf) cancelAnimationFrame(this.raf);
    this.raf = 0;
  }

  dispose(): void {
    this.stop();
    this.controls.dispose();
    this.renderer.dispose();
  }
}

// The local image store: an OCI image layout directory (`oci-layout`, `index.json`,
// `blobs/sha256/<hex>`), by default ~/.bumblebee/store like bee, so both tools see the same
// images. index.json names each manifest by its full reference in
// `org.opencontainers.image.ref.name` (what bee's oras store writes). Writes go through a
// temporary file (random name, O_EXCL|O_NOFOLLOW, same directory) and a rename, so an interrupted
// command leaves the store readable and a planted symlink is replaced, never followed. Reads are
// bounded, and a damaged index.json or manifest is an ImageError naming what is wrong.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  ANNOTATION_AUTHORS,
  ANNOTATION_DESCRIPTION,
  ANNOTATION_REF_NAME,
  type Descriptor,
  descriptorProblem,
  type EbpfPackage,
  ImageError,
  MANIFEST_MEDIA_TYPE,
  type Manifest,
  type PackedImage,
  parseManifest,
  programLayer,
  sha256,
} from './image.js';
import { InputFileError, MAX_INPUT_FILE, readInputFile, writeFileAtomic } from '../syscall/files.js';

interface OciIndex {
  schemaVersion: 2;
  mediaType?: string;
  manifests: Descriptor[];
}

export const DEFAULT_STORE = path.join(os.homedir(), '.bumblebee', 'store');

export interface StoredImage {
  ref: string;
  descriptor: Descriptor;
  manifest: Manifest;
}

/** index.json: a few hundred bytes per image. */
const MAX_INDEX_BYTES = 64 << 20;

export class ImageStore {
  constructor(readonly dir: string = DEFAULT_STORE) {}

  private get indexPath(): string {
    return path.join(this.dir, 'index.json');
  }

  private blobPath(digest: string): string {
    const [alg, hex] = digest.split(':');
    if (alg !== 'sha256' || !/^[a-f0-9]{64}$/.test(hex ?? '')) throw new ImageError(digest, `bad digest '${digest}' (want sha256:<64 hex digits>)`);
    return path.join(this.dir, 'blobs', 'sha256', hex!);
  }

  private writeAtomic(file: string, data: Uint8Array | string): void {
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    writeFileAtomic(file, data, 0o644);
  }

  /** A store file, bounded; a missing or unreadable one is an ImageError naming the store. */
  private readFile(file: string, ref: string, what: string, max = MAX_INPUT_FILE): Buffer {
    try {
      return readInputFile(file, what, max);
    } catch (e) {
      if (e instanceof InputFileError) throw new ImageError(ref, `${e.message} (the image store ${this.dir} is damaged)`);
      throw e;
    }
  }

  private ensureLayout(): void {
    const layout = path.join(this.dir, 'oci-layout');
    if (!fs.existsSync(layout)) this.writeAtomic(layout, JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  }

  private readIndex(): OciIndex {
    if (!fs.existsSync(this.indexPath)) return { schemaVersion: 2, manifests: [] };
    const damaged = (why: string) => new ImageError(this.indexPath, `${why}; the image store is damaged`);
    let idx: OciIndex;
    try {
      idx = JSON.parse(this.readFile(this.indexPath, this.indexPath, 'image index', MAX_INDEX_BYTES).toString('utf8')) as OciIndex;
    } catch (e) {
      if (e instanceof ImageError) throw e;
      throw damaged(`not valid JSON (${(e as Error).message})`);
    }
    if (typeof idx !== 'object' || idx === null || !Array.isArray(idx.manifests)) throw damaged('no manifests array');
    idx.manifests.forEach((d, i) => {
      const why = descriptorProblem(d);
      if (why) throw damaged(`manifests[${i}] ${why}`);
    });
    return idx;
  }

  private writeIndex(idx: OciIndex): void {
    this.ensureLayout();
    this.writeAtomic(this.indexPath, JSON.stringify(idx));
  }

  hasBlob(digest: string): boolean {
    return fs.existsSync(this.blobPath(digest));
  }

  /** A blob, checked against its digest (a store is content-addressed: a mismatch is damage). */
  readBlob(digest: string, ref = digest): Uint8Array {
    const p = this.blobPath(digest);
    if (!fs.existsSync(p)) throw new ImageError(ref, `blob ${digest} is missing from ${this.dir}`);
    const data = this.readFile(p, ref, `blob ${digest}`);
    if (sha256(data) !== digest) throw new ImageError(ref, `blob ${digest} in ${this.dir} does not match its digest`);
    return data;
  }

  writeBlob(digest: string, data: Uint8Array): void {
    if (sha256(data) !== digest) throw new ImageError(digest, `blob does not match digest ${digest}`);
    if (!this.hasBlob(digest)) this.writeAtomic(this.blobPath(digest), data);
  }

  /** Name a manifest (already in the blobs) `ref`, replacing what that name pointed to. */
  tagManifest(ref: string, desc: Descriptor): void {
    const idx = this.readIndex();
    idx.manifests = idx.manifests.filter((d) => d.annotations?.[ANNOTATION_REF_NAME] !== ref);
    idx.manifests.push({ ...desc, annotations: { ...desc.annotations, [ANNOTATION_REF_NAME]: ref } });
    this.writeIndex(idx);
  }

  /** Store a packed image under `ref` (blobs first, then the index entry). */
  save(ref: string, img: PackedImage, platform?: EbpfPackage['platform']): Descriptor {
    for (const [d, b] of img.blobs) this.writeBlob(d, b);
    this.writeBlob(img.manifestDigest, img.manifestBytes);
    const desc: Descriptor = { mediaType: MANIFEST_MEDIA_TYPE, digest: img.manifestDigest, size: img.manifestBytes.length };
    if (platform) desc.platform = platform;
    this.tagManifest(ref, desc);
    return desc;
  }

  list(): StoredImage[] {
    return this.readIndex()
      .manifests.filter((d) => d.annotations?.[ANNOTATION_REF_NAME])
      .map((d) => {
        const ref = d.annotations![ANNOTATION_REF_NAME]!;
        return { ref, descriptor: d, manifest: parseManifest(ref, this.readBlob(d.digest, ref)) };
      });
  }

  resolve(ref: string): StoredImage | undefined {
    const d = this.readIndex().manifests.find((x) => x.annotations?.[ANNOTATION_REF_NAME] === ref);
    if (!d) return undefined;
    return { ref, descriptor: d, manifest: parseManifest(ref, this.readBlob(d.digest, ref)) };
  }

  /** The eBPF package under `ref`, or an ImageError that says how to get it. */
  load(ref: string): EbpfPackage {
    const img = this.resolve(ref);
    if (!img) throw new ImageError(ref, `not in the local store ${this.dir} (bee-ts pull ${ref}, or bee-ts build <probe.c> ${ref})`);
    const layer = programLayer(ref, img.manifest);
    return {
      program: this.readBlob(layer.digest, ref),
      description: img.manifest.annotations?.[ANNOTATION_DESCRIPTION],
      authors: img.manifest.annotations?.[ANNOTATION_AUTHORS],
      platform: img.descriptor.platform,
    };
  }

  /** `tag SRC DST`: DST names SRC's manifest (annotations and platform copied, minus ref.name). */
  tag(src: string, dst: string): void {
    const img = this.resolve(src);
    if (!img) throw new ImageError(src, `not in the local store ${this.dir}`);
    const annotations = { ...img.descriptor.annotations };
    delete annotations[ANNOTATION_REF_NAME];
    this.tagManifest(dst, { ...img.descriptor, annotations });
  }

  /** Everything a registry push needs: the manifest bytes and every blob it names. */
  export(ref: string): { manifestBytes: Uint8Array; manifest: Manifest; blobs: Map<string, Uint8Array>; descriptor: Descriptor } {
    const img = this.resolve(ref);
    if (!img) throw new ImageError(ref, `not in the local store ${this.dir} (tag it first: bee-ts tag <local ref> ${ref})`);
    const blobs = new Map<string, Uint8Array>();
    for (const d of [img.manifest.config, ...img.manifest.layers]) blobs.set(d.digest, this.readBlob(d.digest, ref));
    return { manifestBytes: this.readBlob(img.descriptor.digest, ref), manifest: img.manifest, blobs, descriptor: img.descriptor };
  }
}

#!/usr/bin/env node
// Builds build/ignis_cuda.node: CUDA sources with nvcc (sm_90a first; more with IGNIS_CUDA_ARCHS,
// e.g. "80,90a"), host C++ with g++, the CUDA runtime linked statically. cuBLASLt and NCCL are
// not linked: the addon loads them with dlopen at run time, so one build works with and without
// a GPU. Without nvcc there is nothing to build: the TypeScript part still works and the loader
// reports why the CUDA backend is missing. Recompiles only what changed (any header change
// recompiles everything). Standalone programs (*_test.cu, *_check.cc) are built apart (see each kernel's NOTES.md).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'package.json'));
const buildDir = join(root, 'build');
const objDir = join(buildDir, 'obj');
const output = join(buildDir, 'ignis_cuda.node');

/** The CUDA toolkit directory, or undefined when nvcc cannot be found. */
export function findCuda() {
  const candidates = [process.env.CUDA_HOME, process.env.CUDA_PATH, '/usr/local/cuda'].filter(Boolean);
  for (const dir of candidates) if (existsSync(join(dir, 'bin', 'nvcc'))) return dir;
  const which = spawnSync('sh', ['-c', 'command -v nvcc'], { encoding: 'utf8' });
  if (which.status === 0 && which.stdout.trim()) return dirname(dirname(which.stdout.trim()));
  return undefined;
}

/** nvcc -gencode flags for the requested architectures (default: sm_90a, the H100/H200). */
export function cudaArchs() {
  return (process.env.IGNIS_CUDA_ARCHS ?? '90a').split(',').map((a) => a.trim()).filter(Boolean);
}

export function gencodeFlags() {
  return cudaArchs().map((arch) => `-gencode=arch=compute_${arch},code=sm_${arch}`);
}

function walk(dir, accept) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? walk(path, accept) : accept(path) ? [path] : [];
  });
}

const mtime = (path) => (existsSync(path) ? statSync(path).mtimeMs : 0);

function run(command, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${command} exited with ${code}`))));
  });
}

/** Runs `jobs` (functions returning promises) with at most `limit` at once. */
async function parallel(jobs, limit) {
  const queue = [...jobs];
  const workers = Array.from({ length: Math.min(limit, queue.length) }, async () => {
    while (queue.length > 0) await queue.shift()();
  });
  await Promise.all(workers);
}

async function main() {
  const cuda = findCuda();
  if (!cuda) {
    console.log('[cuda-kernels] nvcc not found (set CUDA_HOME): skipping the native addon; the CUDA backend will be unavailable.');
    return;
  }
  const napiInclude = join(dirname(require.resolve('node-api-headers/package.json')), 'include');
  const addonInclude = dirname(require.resolve('node-addon-api/package.json'));
  mkdirSync(objDir, { recursive: true });

  const headers = [...walk(join(root, 'native'), (p) => /\.(h|cuh)$/.test(p)), ...walk(join(root, 'kernels'), (p) => /\.(h|cuh)$/.test(p))];
  const newestHeader = Math.max(0, ...headers.map(mtime), mtime(fileURLToPath(import.meta.url)));
  const sources = [
    ...walk(join(root, 'native'), (p) => p.endsWith('.cc')),
    ...walk(join(root, 'kernels'), (p) => (p.endsWith('.cu') || p.endsWith('.cc')) && !/_(test|check)\.(cu|cc)$/.test(p)),
  ];
  const includes = [`-I${join(root, 'native')}`, `-I${join(root, 'kernels')}`, `-I${join(cuda, 'include')}`];
  const objects = [];
  const jobs = [];
  for (const source of sources) {
    const object = join(objDir, `${relative(root, source).replaceAll('/', '__')}.o`);
    objects.push(object);
    if (mtime(object) > Math.max(mtime(source), newestHeader)) continue;
    if (source.endsWith('.cu')) {
      const args = ['-std=c++17', '-O3', ...gencodeFlags(), '-lineinfo', '--expt-relaxed-constexpr', '-Xcompiler', '-fPIC,-fvisibility=hidden', '-DNDEBUG', ...includes, '-c', source, '-o', object];
      jobs.push(() => run(join(cuda, 'bin', 'nvcc'), args));
    } else {
      const args = ['-std=c++17', '-O2', '-fPIC', '-fvisibility=hidden', '-fexceptions', '-DNAPI_VERSION=8', '-DNAPI_CPP_EXCEPTIONS', `-DIGNIS_ARCHS="${cudaArchs().join(',')}"`, `-I${napiInclude}`, `-I${addonInclude}`, ...includes, '-c', source, '-o', object];
      jobs.push(() => run(process.env.CXX ?? 'g++', args));
    }
  }
  const started = Date.now();
  await parallel(jobs, Math.max(1, cpus().length));
  if (jobs.length > 0 || mtime(output) < Math.max(...objects.map(mtime))) {
    const cudaLib = join(cuda, existsSync(join(cuda, 'lib64')) ? 'lib64' : 'lib');
    await run(process.env.CXX ?? 'g++', ['-shared', '-o', output, ...objects, `-L${cudaLib}`, '-lcudart_static', '-ldl', '-lrt', '-lpthread', '-static-libstdc++', '-static-libgcc']);
  }
  writeFileSync(join(buildDir, 'build-info.json'), `${JSON.stringify({ cuda, gencode: gencodeFlags() }, null, 2)}\n`);
  console.log(`[cuda-kernels] ${relative(process.cwd(), output)}: ${jobs.length} of ${sources.length} sources compiled in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((error) => {
    console.error(`[cuda-kernels] native build failed: ${error.message}`);
    process.exit(1);
  });
}

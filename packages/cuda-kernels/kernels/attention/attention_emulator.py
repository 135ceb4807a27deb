#!/usr/bin/env python3
"""CPU emulation of paged_attention.cu, paged_decode_mma.cu and flash_prefill.cu (index math only).

A line-by-line port of the two kernels' thread/lane/fragment index computations, run over every
block of the grid with the warp primitives implemented from their PTX ISA definitions
(ldmatrix / ldmatrix.trans, mma.m16n8k16 fragment layouts, shfl.xor), and compared against a plain
reference. It catches slips in offsets, masks, piece/partition coverage and fragment layouts; it
does not replace the GPU tests in attention_test.cu (no timing, no races, no real cp.async).
Keep it in step with the .cu files when they change.

    python3 attention_emulator.py          # all emulated cases, exit 1 on failure
"""
import math
import sys

import numpy as np

LOG2E = 1.4426950408889634


def bf16(x):
    """Round to bf16 (nearest even), returned as float32."""
    x = np.asarray(x, dtype=np.float32)
    u = x.view(np.uint32).astype(np.uint64)
    u = (u + 0x7FFF + ((u >> 16) & 1)) & 0xFFFF0000
    return u.astype(np.uint32).view(np.float32)


def f32(x):
    return np.float32(x)


def f16(x):
    """Round to f16 (nearest even), returned as float32."""
    return np.asarray(x, np.float32).astype(np.float16).astype(np.float32)


def e4m3_decode(codes):
    """e4m3 codes (uint8) -> float32 values, from the format's definition (no NaN codes are used here)."""
    c = np.asarray(codes, np.int64)
    sign = np.where(c & 0x80, -1.0, 1.0)
    e = (c >> 3) & 15
    m = c & 7
    return (sign * np.where(e == 0, m * 2.0**-9, (8 + m) * 2.0 ** (e - 10))).astype(np.float32)


def e4m3x2_to_f16x2(words):
    """cvt.rn.f16x2.e4m3x2 of the low 16 bits of each uint32: [..., 2] values (low byte first)."""
    w = np.asarray(words, np.uint64)
    return np.stack([e4m3_decode(w & 0xFF), e4m3_decode((w >> 8) & 0xFF)], -1)


def byte_perm(x, y, sel):
    """__byte_perm (prmt.b32 default mode): byte i of the result = byte sel[i] of {y:x}."""
    x = np.asarray(x, np.uint64)
    y = np.asarray(y, np.uint64)
    src = [(x >> (8 * i)) & 0xFF for i in range(4)] + [(y >> (8 * i)) & 0xFF for i in range(4)]
    out = np.zeros_like(x)
    for i in range(4):
        out |= src[(sel >> (4 * i)) & 7] << (8 * i)
    return out


def words(byte_rows):
    """[..., 4n] uint8 -> [..., n] little-endian uint32 words (as uint64)."""
    b = np.asarray(byte_rows, np.uint64)
    return b[..., 0::4] | (b[..., 1::4] << 8) | (b[..., 2::4] << 16) | (b[..., 3::4] << 24)


# ----------------------------------------------------------------------------------------------
# Problem setup shared by both emulations
# ----------------------------------------------------------------------------------------------


class Problem:
    """kv="fp8": the caches hold random finite e4m3 codes (k8, v8); kcode/vcode are their values and
    k/v (what attention must read, for the reference) are kcode * k_scale and vcode * v_scale."""

    def __init__(self, seqs, H, KVH, D, bs, window, lead=0, pad=0, extra=0, seed=0, dtype="bf16", kv="plain"):
        rng = np.random.default_rng(seed)
        self.H, self.KVH, self.D, self.bs, self.window = H, KVH, D, bs, window
        self.dtype = dtype
        self.kv = kv
        ns = len(seqs)
        max_ctx = max([c for c, _ in seqs] + [1])
        self.mbps = (max_ctx + extra + bs - 1) // bs
        used = sum((c + bs - 1) // bs for c, _ in seqs)
        self.num_blocks = used + 3
        perm = rng.permutation(self.num_blocks)
        self.bt = np.full(ns * self.mbps, -1, np.int64)
        nxt = 0
        for s, (c, _) in enumerate(seqs):
            for j in range((c + bs - 1) // bs):
                self.bt[s * self.mbps + j] = perm[nxt]
                nxt += 1
        self.seq_lens = np.array([c for c, _ in seqs], np.int64)
        self.qs = np.zeros(ns + 1, np.int64)
        self.qs[0] = lead
        for s, (_, n) in enumerate(seqs):
            self.qs[s + 1] = self.qs[s] + n
        self.num_seqs = ns
        self.num_tokens = int(self.qs[-1]) + pad
        self.max_query_len = max([n for _, n in seqs] + [1])
        self.max_context_len = max_ctx + extra
        rnd = bf16 if dtype == "bf16" else (lambda a: np.asarray(a, np.float32))
        self.q = rnd(rng.uniform(-4, 4, (self.num_tokens, H * D)).astype(np.float32))
        self.k = rnd(rng.uniform(-1, 1, (self.num_blocks * bs, KVH * D)).astype(np.float32))
        self.v = rnd(rng.uniform(-1, 1, (self.num_blocks * bs, KVH * D)).astype(np.float32))
        self.scale = f32(1.0 / math.sqrt(D))
        self.k_scale = self.v_scale = f32(1.0)
        self.kcode, self.vcode = self.k, self.v
        if kv == "fp8":
            finite = np.array([c for c in range(256) if c & 0x7F != 0x7F], np.uint8)
            self.k8 = rng.choice(finite, (self.num_blocks * bs, KVH * D))
            self.v8 = rng.choice(finite, (self.num_blocks * bs, KVH * D))
            self.kcode, self.vcode = e4m3_decode(self.k8), e4m3_decode(self.v8)
            self.k_scale, self.v_scale = f32(1 / 448), f32(0.01)
            self.k = (self.kcode.astype(np.float64) * float(self.k_scale)).astype(np.float32)
            self.v = (self.vcode.astype(np.float64) * float(self.v_scale)).astype(np.float32)

    def reference(self):
        H, KVH, D, bs = self.H, self.KVH, self.D, self.bs
        group = H // KVH
        out = np.zeros((self.num_tokens, H * D))
        for s in range(self.num_seqs):
            ctx = int(self.seq_lens[s])
            n = int(self.qs[s + 1] - self.qs[s])
            rows = [int(self.bt[s * self.mbps + p // bs]) * bs + p % bs for p in range(ctx)]
            K = self.k[rows].astype(np.float64).reshape(ctx, KVH, D)
            V = self.v[rows].astype(np.float64).reshape(ctx, KVH, D)
            for j in range(n):
                t = int(self.qs[s]) + j
                p = ctx - n + j
                st = max(0, p + 1 - self.window) if self.window > 0 else 0
                for h in range(H):
                    q = self.q[t, h * D:(h + 1) * D].astype(np.float64)
                    sc = K[st:p + 1, h // group] @ q * float(self.scale)
                    w = np.exp(sc - sc.max())
                    out[t, h * D:(h + 1) * D] = (w[:, None] * V[st:p + 1, h // group]).sum(0) / w.sum()
        return out


def find_seq(qs, num_seqs, t):
    if num_seqs <= 0 or qs[0] > t:
        return -1
    lo, hi = 0, num_seqs - 1
    while lo < hi:
        mid = (lo + hi + 1) >> 1
        if qs[mid] <= t:
            lo = mid
        else:
            hi = mid - 1
    return lo if t < qs[lo + 1] else -1


def key_end(P, s):
    return int(min(P.seq_lens[s], P.mbps * P.bs))


def key_range(pos, window, kend):
    lo = max(0, pos + 1 - window) if window > 0 else 0
    return lo, min(pos, kend - 1)


# ----------------------------------------------------------------------------------------------
# Warp primitives (PTX ISA definitions)
# ----------------------------------------------------------------------------------------------

LANES = np.arange(32)
G = LANES >> 2
TQ = LANES & 3


def ldmatrix_x4(smem, addr_bytes, trans=False):
    """smem: flat array of 16-bit elements; addr_bytes[lane] row addresses (lanes 8i..8i+7 ->
    matrix i). Returns regs[32][4][2]: of matrix i, lane l gets row l/4, elements 2(l%4), +1."""
    regs = np.zeros((32, 4, 2), np.float32)
    for i in range(4):
        rows = []
        for r in range(8):
            a = int(addr_bytes[8 * i + r])
            assert a % 16 == 0, "ldmatrix row address must be 16-byte aligned"
            e = a // 2
            assert 0 <= e and e + 8 <= smem.size, "ldmatrix out of shared memory"
            rows.append(smem[e:e + 8])
        M = np.stack(rows)
        if trans:
            M = M.T
        regs[:, i, 0] = M[G, 2 * TQ]
        regs[:, i, 1] = M[G, 2 * TQ + 1]
    return regs


def mma_16816(c, a, b0, b1):
    """c[32][4] f32, a[32][4][2], b0/b1[32][2]; returns d = A B + C per the m16n8k16 layouts."""
    A = np.zeros((16, 16), np.float64)
    B = np.zeros((16, 8), np.float64)
    C = np.zeros((16, 8), np.float64)
    A[G, 2 * TQ], A[G, 2 * TQ + 1] = a[:, 0, 0], a[:, 0, 1]
    A[G + 8, 2 * TQ], A[G + 8, 2 * TQ + 1] = a[:, 1, 0], a[:, 1, 1]
    A[G, 2 * TQ + 8], A[G, 2 * TQ + 9] = a[:, 2, 0], a[:, 2, 1]
    A[G + 8, 2 * TQ + 8], A[G + 8, 2 * TQ + 9] = a[:, 3, 0], a[:, 3, 1]
    B[2 * TQ, G], B[2 * TQ + 1, G] = b0[:, 0], b0[:, 1]
    B[2 * TQ + 8, G], B[2 * TQ + 9, G] = b1[:, 0], b1[:, 1]
    C[G, 2 * TQ], C[G, 2 * TQ + 1], C[G + 8, 2 * TQ], C[G + 8, 2 * TQ + 1] = c[:, 0], c[:, 1], c[:, 2], c[:, 3]
    Dm = A @ B + C
    return np.stack([Dm[G, 2 * TQ], Dm[G, 2 * TQ + 1], Dm[G + 8, 2 * TQ], Dm[G + 8, 2 * TQ + 1]], 1).astype(np.float32)


def shfl_xor(x, off):
    return x[LANES ^ off]


def safe_max(m):
    return np.where(m == -np.inf, np.float32(0), m)


# ----------------------------------------------------------------------------------------------
# flash_prefill.cu
# ----------------------------------------------------------------------------------------------

KBM = 64
KTHREADS = 128


def prefill_cfg(D, HP, FP8=False):
    BN = 32 if (D > 128 or (HP == 2 and D == 128)) else 64
    LDS = D + 8
    CPR = D // 8
    RPP = KTHREADS // CPR
    KV_CE = 16 if FP8 else 8
    KV_CPR = D // KV_CE
    KV_CHUNKS = BN * KV_CPR
    return dict(BN=BN, LDS=LDS, CPR=CPR, RPP=RPP, Q_PASSES=KBM // RPP, KSTEPS=D // 16,
                NT_S=BN // 8, KSTEPS_PV=BN // 16, NT_O=D // 8, Q_IN_REGS=(D <= 128 and HP == 1),
                KV_CE=KV_CE, KV_CPR=KV_CPR, KV_CHUNKS=KV_CHUNKS, KV_ITERS=(KV_CHUNKS + KTHREADS - 1) // KTHREADS,
                KV_PARTIAL=KV_CHUNKS % KTHREADS != 0, KV_STAGES=1 if FP8 else 2)


def prefill_heads_per_block(P, override_hp):
    group = P.H // P.KVH
    hp = override_hp if override_hp > 0 else 2
    return 2 if (hp == 2 and group % 2 == 0 and P.D <= 128) else 1


def emulate_prefill(P, override_hp=0):
    D, H, KVH = P.D, P.H, P.KVH
    HP = prefill_heads_per_block(P, override_hp)
    FP8 = P.kv == "fp8"
    c = prefill_cfg(D, HP, FP8)
    BN, LDS, CPR, RPP = c["BN"], c["LDS"], c["CPR"], c["RPP"]
    KV_CE, KV_CPR, KV_ITERS = c["KV_CE"], c["KV_CPR"], c["KV_ITERS"]
    out = np.full((P.num_tokens, H * D), np.nan, np.float32)
    nchunks = (P.num_tokens + KBM - 1) // KBM
    scale_log2 = f32(f32(P.scale * f32(LOG2E)) * P.k_scale)
    written = np.zeros(out.shape, np.int64)

    def zero_rows(h0, rs, re):
        for r in range(rs, re):
            out[r, h0 * D:(h0 + HP) * D] = 0
            written[r, h0 * D:(h0 + HP) * D] += 1

    head_groups = H // HP
    for bid in range((nchunks + P.num_seqs) * head_groups):
        h0 = (bid % head_groups) * HP
        piece = bid // head_groups
        kvh = h0 // (H // KVH)
        assert (h0 + HP - 1) // (H // KVH) == kvh
        if piece < nchunks:
            t0 = (nchunks - 1 - piece) * KBM
            tend = min(t0 + KBM, P.num_tokens)
            qa = int(P.qs[0]) if P.num_seqs > 0 else 0
            qz = int(P.qs[P.num_seqs]) if P.num_seqs > 0 else 0
            zero_rows(h0, t0, min(tend, qa))
            zero_rows(h0, max(t0, qz), tend)
            s = find_seq(P.qs, P.num_seqs, t0)
            if s < 0:
                continue
            r0, r1 = t0, min(tend, int(P.qs[s + 1]))
        else:
            s = piece - nchunks
            if s >= P.num_seqs:
                continue
            qb, qe = int(P.qs[s]), int(P.qs[s + 1])
            if qe <= qb or qb % KBM == 0 or qb < 0 or qb >= P.num_tokens:
                continue
            r0, r1 = qb, min(min(qe, (qb // KBM + 1) * KBM), P.num_tokens)
        m = r1 - r0
        qb, qe = int(P.qs[s]), int(P.qs[s + 1])
        kend = key_end(P, s)
        p0 = int(P.seq_lens[s]) - (qe - qb) + (r0 - qb)
        klo, _ = key_range(p0, P.window, kend)
        _, khi = key_range(p0 + m - 1, P.window, kend)
        if khi < klo:
            zero_rows(h0, r0, r1)
            continue

        # shared memory (elements)
        sQ = np.zeros(HP * KBM * LDS, np.float32)
        sK = np.full(c["KV_STAGES"] * BN * LDS, np.nan, np.float32)
        sV = np.full(c["KV_STAGES"] * BN * LDS, np.nan, np.float32)
        s8K = np.full(2 * BN * D, np.nan, np.float32)  # FP8 staging (code values: the conversion is exact)
        s8V = np.full(2 * BN * D, np.nan, np.float32)
        for tid in range(KTHREADS):  # Q loads
            ld_row, ld_c = tid // CPR, tid % CPR
            for hp in range(HP):
                for i in range(c["Q_PASSES"]):
                    row = i * RPP + ld_row
                    dst = (hp * KBM + row) * LDS + ld_c * 8
                    col = (h0 + hp) * D + ld_c * 8
                    sQ[dst:dst + 8] = P.q[r0 + row, col:col + 8] if row < m else 0

        phys = np.zeros((KTHREADS, KV_ITERS), np.int64)  # per-thread registers, fetched a tile ahead

        def kv_last_pass(tid):
            return not c["KV_PARTIAL"] or tid + (KV_ITERS - 1) * KTHREADS < c["KV_CHUNKS"]

        def fetch_phys(kt):
            for tid in range(KTHREADS):
                kv_row = tid // KV_CPR
                for i in range(KV_ITERS):
                    key = kt * BN + i * (KTHREADS // KV_CPR) + kv_row
                    phys[tid, i] = int(P.bt[s * P.mbps + (key // P.bs)]) if key < kend else -1

        def thread_chunks(tid):
            """(pass, tile row, column) of each K/V chunk thread `tid` moves."""
            kv_row, kv_col = tid // KV_CPR, (tid % KV_CPR) * KV_CE
            for i in range(KV_ITERS):
                if i == KV_ITERS - 1 and not kv_last_pass(tid):
                    break
                yield i, i * (KTHREADS // KV_CPR) + kv_row, kv_col

        def issue_kv(kt, stage):
            for tid in range(KTHREADS):
                for i, krow, kv_col in thread_chunks(tid):
                    key = kt * BN + krow
                    if FP8:
                        dst_k, dst_v, sidx = s8K, s8V, (stage * BN + krow) * D + kv_col
                    else:
                        dst_k, dst_v, sidx = sK, sV, (stage * BN + krow) * LDS + kv_col
                    if phys[tid, i] >= 0:
                        row = phys[tid, i] * P.bs + (key & (P.bs - 1))
                        cols = slice(kvh * D + kv_col, kvh * D + kv_col + KV_CE)
                        dst_k[sidx:sidx + KV_CE] = P.kcode[row, cols]
                        dst_v[sidx:sidx + KV_CE] = P.vcode[row, cols]
                    else:
                        dst_k[sidx:sidx + KV_CE] = 0
                        dst_v[sidx:sidx + KV_CE] = 0

        def convert_kv(stage):  # FP8: each thread its own chunks, into the one bf16 stage
            for tid in range(KTHREADS):
                for _, krow, kv_col in thread_chunks(tid):
                    sidx = (stage * BN + krow) * D + kv_col
                    sK[krow * LDS + kv_col:krow * LDS + kv_col + 16] = s8K[sidx:sidx + 16]
                    sV[krow * LDS + kv_col:krow * LDS + kv_col + 16] = s8V[sidx:sidx + 16]

        kt_lo, kt_hi = klo // BN, khi // BN
        warps = []
        for warp in range(4):
            wr0 = warp * 16
            w_first = p0 + wr0
            w_last = p0 + min(wr0 + 15, m - 1)
            w_lo, _ = key_range(w_first, P.window, kend)
            _, w_hi = key_range(w_last, P.window, kend)
            row_lo = np.zeros((2, 32), np.int64)
            row_hi = np.zeros((2, 32), np.int64)
            for r in range(2):
                tr = wr0 + G + 8 * r
                pos = p0 + tr
                valid = tr < m
                row_lo[r] = np.where(valid, pos + 1 - P.window if P.window > 0 else -(2**31), -(2**31))
                row_hi[r] = np.where(valid, np.minimum(pos, kend - 1), -1)
            warps.append(dict(wr0=wr0, active=wr0 < m, w_first=w_first, w_last=w_last, w_lo=w_lo, w_hi=w_hi,
                              row_lo=row_lo, row_hi=row_hi, o=np.zeros((HP, c["NT_O"], 32, 4), np.float32),
                              m_run=np.full((HP, 2, 32), -np.inf, np.float32),
                              l_run=np.zeros((HP, 2, 32), np.float32), qf=None))
        a_off = ((LANES & 7) + ((LANES >> 3) & 1) * 8) * LDS + (LANES >> 4) * 8
        b_off = ((LANES & 7) + (LANES >> 4) * 8) * LDS + ((LANES >> 3) & 1) * 8
        v_off = ((LANES & 7) + ((LANES >> 3) & 1) * 8) * LDS + (LANES >> 4) * 8

        fetch_phys(kt_lo)
        issue_kv(kt_lo, 0)
        if kt_lo < kt_hi:
            fetch_phys(kt_lo + 1)
        for kt in range(kt_lo, kt_hi + 1):
            stage = (kt - kt_lo) & 1
            # (on the GPU tile kt+1 loads into stage^1 during this iteration; emulated at its end)
            if FP8:
                sK[:] = np.nan  # the bf16 tile holds only what this tile's conversion writes
                sV[:] = np.nan
                convert_kv(stage)
            kv_stage = 0 if FP8 else stage
            kbase = kt * BN
            for W in warps:
                sQ_warp = (W["wr0"] * LDS + a_off) * 2
                if c["Q_IN_REGS"] and kt == kt_lo:
                    W["qf"] = [ldmatrix_x4(sQ, sQ_warp + ks * 32) for ks in range(c["KSTEPS"])]
                if not (W["active"] and kbase <= W["w_hi"] and kbase + BN - 1 >= W["w_lo"]):
                    continue
                sK_st = kv_stage * BN * LDS * 2
                sV_st = kv_stage * BN * LDS * 2
                sacc = np.zeros((HP, c["NT_S"], 32, 4), np.float32)
                for ks in range(c["KSTEPS"]):
                    af = [W["qf"][ks] if c["Q_IN_REGS"] else ldmatrix_x4(sQ, sQ_warp + (hp * KBM * LDS) * 2 + ks * 32)
                          for hp in range(HP)]
                    for npair in range(c["NT_S"] // 2):
                        b = ldmatrix_x4(sK, sK_st + ((npair * 16) * LDS + b_off + ks * 16) * 2)
                        for hp in range(HP):
                            sacc[hp, 2 * npair] = mma_16816(sacc[hp, 2 * npair], af[hp], b[:, 0], b[:, 1])
                            sacc[hp, 2 * npair + 1] = mma_16816(sacc[hp, 2 * npair + 1], af[hp], b[:, 2], b[:, 3])
                need_mask = (kbase + BN - 1 > W["w_first"]) or (P.window > 0 and kbase < W["w_last"] + 1 - P.window) \
                    or (kbase + BN > kend)
                for nt in range(c["NT_S"]):
                    for i in range(4):
                        kp = kbase + nt * 8 + 2 * TQ + (i & 1)
                        masked = need_mask & ((kp > W["row_hi"][i >> 1]) | (kp < W["row_lo"][i >> 1]))
                        for hp in range(HP):
                            sacc[hp, nt][:, i] = np.where(masked, np.float32(-np.inf),
                                                          (sacc[hp, nt][:, i] * scale_log2).astype(np.float32))
                for hp in range(HP):
                    for r in range(2):
                        mx = np.full(32, -np.inf, np.float32)
                        for nt in range(c["NT_S"]):
                            mx = np.maximum(mx, np.maximum(sacc[hp, nt][:, 2 * r], sacc[hp, nt][:, 2 * r + 1]))
                        mx = np.maximum(mx, shfl_xor(mx, 1))
                        mx = np.maximum(mx, shfl_xor(mx, 2))
                        mn = np.maximum(W["m_run"][hp, r], mx)
                        mu = safe_max(mn)
                        alpha = np.exp2(W["m_run"][hp, r] - mu).astype(np.float32)
                        W["m_run"][hp, r] = mn
                        psum = np.zeros(32, np.float32)
                        for nt in range(c["NT_S"]):
                            sacc[hp, nt][:, 2 * r] = np.exp2(sacc[hp, nt][:, 2 * r] - mu)
                            sacc[hp, nt][:, 2 * r + 1] = np.exp2(sacc[hp, nt][:, 2 * r + 1] - mu)
                            psum += sacc[hp, nt][:, 2 * r] + sacc[hp, nt][:, 2 * r + 1]
                        W["l_run"][hp, r] = W["l_run"][hp, r] * alpha + psum
                        for nt in range(c["NT_O"]):
                            W["o"][hp, nt][:, 2 * r] *= alpha
                            W["o"][hp, nt][:, 2 * r + 1] *= alpha
                for kk in range(c["KSTEPS_PV"]):
                    pas = []
                    for hp in range(HP):
                        pa = np.zeros((32, 4, 2), np.float32)
                        pa[:, 0, 0], pa[:, 0, 1] = bf16(sacc[hp, 2 * kk][:, 0]), bf16(sacc[hp, 2 * kk][:, 1])
                        pa[:, 1, 0], pa[:, 1, 1] = bf16(sacc[hp, 2 * kk][:, 2]), bf16(sacc[hp, 2 * kk][:, 3])
                        pa[:, 2, 0], pa[:, 2, 1] = bf16(sacc[hp, 2 * kk + 1][:, 0]), bf16(sacc[hp, 2 * kk + 1][:, 1])
                        pa[:, 3, 0], pa[:, 3, 1] = bf16(sacc[hp, 2 * kk + 1][:, 2]), bf16(sacc[hp, 2 * kk + 1][:, 3])
                        pas.append(pa)
                    for npair in range(c["NT_O"] // 2):
                        b = ldmatrix_x4(sV, sV_st + ((kk * 16) * LDS + v_off + npair * 16) * 2, trans=True)
                        for hp in range(HP):
                            W["o"][hp, 2 * npair] = mma_16816(W["o"][hp, 2 * npair], pas[hp], b[:, 0], b[:, 1])
                            W["o"][hp, 2 * npair + 1] = mma_16816(W["o"][hp, 2 * npair + 1], pas[hp], b[:, 2], b[:, 3])
            if kt < kt_hi:
                issue_kv(kt + 1, stage ^ 1)
            if kt + 1 < kt_hi:
                fetch_phys(kt + 2)
        # epilogue
        for W in warps:
            if not W["active"]:
                continue
            for hp in range(HP):
                inv = []
                for r in range(2):
                    l = W["l_run"][hp, r].copy()
                    l = l + shfl_xor(l, 1)
                    l = l + shfl_xor(l, 2)
                    inv.append(np.where(l > 0, P.v_scale / np.where(l > 0, l, 1), 0).astype(np.float32))
                base = (hp * KBM + W["wr0"]) * LDS
                for nt in range(c["NT_O"]):
                    for lane in range(32):
                        g, tq = lane >> 2, lane & 3
                        e0 = base + g * LDS + nt * 8 + 2 * tq
                        e1 = base + (g + 8) * LDS + nt * 8 + 2 * tq
                        sQ[e0:e0 + 2] = bf16(W["o"][hp, nt][lane, 0:2] * inv[0][lane])
                        sQ[e1:e1 + 2] = bf16(W["o"][hp, nt][lane, 2:4] * inv[1][lane])
            for i in range(HP * 16 * CPR):
                hp, row, cc = i // (16 * CPR), (i // CPR) % 16, i % CPR
                if W["wr0"] + row < m:
                    t = r0 + W["wr0"] + row
                    src = (hp * KBM + W["wr0"] + row) * LDS + cc * 8
                    col = (h0 + hp) * D + cc * 8
                    out[t, col:col + 8] = sQ[src:src + 8]
                    written[t, col:col + 8] += 1
    return out, written


# ----------------------------------------------------------------------------------------------
# paged_attention.cu
# ----------------------------------------------------------------------------------------------

KWARPS = 4
KTABLE_CHUNK = 512


def plan_paged(P, override, sms=132):
    group = P.H // P.KVH
    chunks = (group + 7) // 8
    hc = (group + chunks - 1) // chunks
    rows = 1
    if P.max_query_len > 1:
        rows = min(max(1, 8 // hc), P.max_query_len)
    m = 1
    while m < hc * rows:
        m <<= 1
    row_blocks = P.num_tokens if rows == 1 else min(P.num_tokens, (P.num_tokens + rows - 1) // rows + P.num_seqs)
    base = row_blocks * P.KVH * chunks
    cap = sms * (2 if m >= 8 else 3)
    ctx = P.max_context_len
    part = 0
    if override > 0:
        part = override
    elif base < 4 * cap:
        part = 512
        while part > 128 and base * ((ctx + part - 1) // part) < 4 * cap:
            part >>= 1
    np_ = (ctx + part - 1) // part if part > 0 else 1
    while np_ > 65535:
        part <<= 1
        np_ = (ctx + part - 1) // part
    if np_ <= 1:
        np_, part = 1, 0
    return dict(group=group, chunks=chunks, hc=hc, rows=rows, m=m, partition=part, np=np_)


def paged_cfg(dtype, D, M):
    VEC = 4 if dtype == "f32" else 8
    TPK = min(32, D // VEC)
    VPT = D // (VEC * TPK)
    EPT = VPT * VEC
    KPW = 32 // TPK
    U = 1 if VPT >= 4 else 4 // VPT
    return dict(VEC=VEC, TPK=TPK, VPT=VPT, EPT=EPT, KPW=KPW, U=U, KEYS_PER_ITER=KWARPS * KPW * U)


def decode_buffers(P, npart):
    """out and the split-K workspace of a decode kernel, poisoned with NaN, and write counters."""
    out = np.full((P.num_tokens, P.H * P.D), np.nan, np.float32)
    total = P.num_tokens * P.H * npart
    ws_acc = np.full((total, P.D), np.nan, np.float32)
    return (out, np.zeros(out.shape, np.int64), ws_acc, np.full(total, np.nan, np.float32), np.full(total, np.nan, np.float32),
            np.zeros(total, np.int64))


def merge_and_store(P, npart, part, t, h, d, m, l, acc, put, ws):
    """merge_and_store (attention_internal.cuh): the warps' states (m, l, acc: one per warp) merged,
    then out[t, h, d] (one partition) or partition `part`'s split-K partial."""
    mm = m.max()
    mu = 0.0 if mm == -np.inf else mm
    f = np.exp2(m - mu)
    L = (l * f).sum()
    A = (acc * f).sum()
    if npart == 1:
        put(t, h * P.D + d, A / L * P.v_scale if L > 0 else 0.0)
        return
    ws_acc, ws_m, ws_l, ws_written = ws
    pi = (t * P.H + h) * npart + part
    ws_acc[pi, d] = A * P.v_scale
    if d == 0:
        ws_m[pi] = mm
        ws_l[pi] = L
        ws_written[pi] += 1


def clip_to_partition(kb, ke, part, npart, part_sz):
    """Keys [kb, ke) cut to split-K partition `part` (the last one is open-ended)."""
    if npart == 1:
        return kb, ke
    ps = part * part_sz
    return max(kb, ps), (ke if part == npart - 1 else min(ke, ps + part_sz))


def combine(P, npart, part_sz, ws_acc, ws_m, ws_l, ws_written, put):
    """paged_combine_kernel: merges the split-K partials a row's key range intersects."""
    H, D = P.H, P.D
    for t in range(P.num_tokens):
        for h in range(H):
            lo, hi = 1, 0
            s = find_seq(P.qs, P.num_seqs, t)
            if s >= 0:
                qb, qe = int(P.qs[s]), int(P.qs[s + 1])
                kend = key_end(P, s)
                lo, hi = key_range(int(P.seq_lens[s]) - (qe - qb) + (t - qb), P.window, kend)
            if lo > hi:
                for d in range(D):
                    put(t, h * D + d, 0.0)
                continue
            pf = min(lo // part_sz, npart - 1)
            plast = min(hi // part_sz, npart - 1)
            base = (t * H + h) * npart
            idx = np.arange(pf, plast + 1) + base
            assert np.all(ws_written[idx] == 1), "combine reads an unwritten partial"
            mm = ws_m[idx].max()
            mu = 0.0 if mm == -np.inf else mm
            w = np.exp2(ws_m[idx] - mu)
            L = (ws_l[idx] * w).sum()
            inv = 1 / L if L > 0 else 0
            for d in range(D):
                put(t, h * D + d, (ws_acc[idx, d] * w).sum() * inv)


def emulate_paged(P, override=0):
    D, H, KVH = P.D, P.H, P.KVH
    pl = plan_paged(P, override)
    M = pl["m"]
    c = paged_cfg(P.dtype, D, M)
    VEC, TPK, VPT, EPT, KPW, U = c["VEC"], c["TPK"], c["VPT"], c["EPT"], c["KPW"], c["U"]
    hc, chunks, group, rows, npart, part_sz = pl["hc"], pl["chunks"], pl["group"], pl["rows"], pl["np"], pl["partition"]
    direct = npart == 1
    qscale = f32(f32(P.scale * f32(LOG2E)) * P.k_scale)
    out, written, ws_acc, ws_m, ws_l, ws_written = decode_buffers(P, npart)
    rnd = bf16 if P.dtype == "bf16" else (lambda a: np.asarray(a, np.float32))
    li = LANES % TPK
    kg = LANES // TPK

    def put(t, col, val):
        out[t, col] = rnd(val)
        written[t, col] += 1

    for t0 in range(P.num_tokens):
        for by in range(KVH * chunks):
            kvh, chunk = by // chunks, by % chunks
            for part in range(npart):
                head0 = kvh * group + chunk * hc
                nheads = min(hc, group - chunk * hc)
                s = find_seq(P.qs, P.num_seqs, t0)
                if s < 0:
                    if direct:
                        for i in range(nheads * D):
                            put(t0, head0 * D + i, 0.0)
                    continue
                qb, qe = int(P.qs[s]), int(P.qs[s + 1])
                j0 = t0 - qb
                if j0 % rows != 0:
                    continue
                nrows = min(rows, qe - t0)
                kend = key_end(P, s)
                pos0 = int(P.seq_lens[s]) - (qe - qb) + j0
                v_lo, v_hi = [1] * M, [0] * M
                blo, bhi = 2**31 - 1, -1
                for v in range(M):
                    r, hh = v // hc, v % hc
                    if r < nrows and hh < nheads:
                        v_lo[v], v_hi[v] = key_range(pos0 + r, P.window, kend)
                        if v_lo[v] <= v_hi[v]:
                            blo, bhi = min(blo, v_lo[v]), max(bhi, v_hi[v])
                kb, ke = clip_to_partition(blo, bhi + 1, part, npart, part_sz)
                if kb >= ke:
                    if direct:
                        for i in range(M * D):
                            v = i // D
                            r, hh = v // hc, v % hc
                            if r < nrows and hh < nheads:
                                put(t0 + r, (head0 + hh) * D + (i - v * D), 0.0)
                    continue
                # q per lane: qf[v][lane][e]
                qf = np.zeros((M, 32, EPT), np.float32)
                for v in range(M):
                    r, hh = v // hc, v % hc
                    if r < nrows and hh < nheads:
                        for j in range(VPT):
                            for lane in range(32):
                                d0 = (j * TPK + li[lane]) * VEC
                                qf[v, lane, j * VEC:(j + 1) * VEC] = P.q[t0 + r, (head0 + hh) * D + d0:(head0 + hh) * D + d0 + VEC]
                    qf[v] = qf[v] * qscale
                warp_state = []
                for warp in range(KWARPS):
                    warp_state.append(dict(m=np.full((M, 32), -np.inf, np.float32), l=np.zeros((M, 32), np.float32),
                                           acc=np.zeros((M, 32, EPT), np.float32)))
                c0 = kb
                while c0 < ke:
                    c1 = min(ke, c0 + KTABLE_CHUNK)
                    b0 = c0 // P.bs
                    nb = (c1 - 1) // P.bs - b0 + 1
                    assert nb <= KTABLE_CHUNK
                    table = [int(P.bt[s * P.mbps + b0 + i]) for i in range(nb)]
                    for warp in range(KWARPS):
                        W = warp_state[warp]
                        base = c0 + warp * (KPW * U)
                        while base < c1:
                            kf = np.zeros((U, 32, EPT), np.float32)
                            vf = np.zeros((U, 32, EPT), np.float32)
                            kpos = np.zeros((U, 32), np.int64)
                            for u in range(U):
                                pos = base + u * KPW + kg
                                kpos[u] = pos
                                for lane in range(32):
                                    if pos[lane] < c1:
                                        row = table[(pos[lane] // P.bs) - b0] * P.bs + (pos[lane] & (P.bs - 1))
                                        for j in range(VPT):
                                            d0 = kvh * D + li[lane] * VEC + j * TPK * VEC
                                            kf[u, lane, j * VEC:(j + 1) * VEC] = P.kcode[row, d0:d0 + VEC]
                                            vf[u, lane, j * VEC:(j + 1) * VEC] = P.vcode[row, d0:d0 + VEC]
                            sc = np.zeros((M, U, 32), np.float32)
                            for u in range(U):
                                for v in range(M):
                                    sc[v, u] = (qf[v] * kf[u]).sum(1, dtype=np.float32)
                            off = TPK // 2
                            while off >= 1:
                                for v in range(M):
                                    for u in range(U):
                                        sc[v, u] = sc[v, u] + shfl_xor(sc[v, u], off)
                                off >>= 1
                            for v in range(M):
                                mx = np.full(32, -np.inf, np.float32)
                                for u in range(U):
                                    ok = (kpos[u] < c1) & (kpos[u] >= v_lo[v]) & (kpos[u] <= v_hi[v])
                                    sc[v, u] = np.where(ok, sc[v, u], np.float32(-np.inf))
                                    mx = np.maximum(mx, sc[v, u])
                                mn = np.maximum(W["m"][v], mx)
                                mu = safe_max(mn)
                                alpha = np.exp2(W["m"][v] - mu).astype(np.float32)
                                psum = np.zeros(32, np.float32)
                                for u in range(U):
                                    sc[v, u] = np.exp2(sc[v, u] - mu)
                                    psum += sc[v, u]
                                W["l"][v] = W["l"][v] * alpha + psum
                                W["acc"][v] *= alpha[:, None]
                                W["m"][v] = mn
                            for u in range(U):
                                for v in range(M):
                                    W["acc"][v] += sc[v, u][:, None] * vf[u]
                            base += c["KEYS_PER_ITER"]
                    c0 += KTABLE_CHUNK
                # merge lane groups
                s_acc = np.zeros((KWARPS, M, D), np.float32)
                s_m = np.zeros((KWARPS, M), np.float32)
                s_l = np.zeros((KWARPS, M), np.float32)
                for warp in range(KWARPS):
                    W = warp_state[warp]
                    off = TPK
                    while off < 32:
                        for v in range(M):
                            mo = shfl_xor(W["m"][v], off)
                            lo = shfl_xor(W["l"][v], off)
                            mn = np.maximum(W["m"][v], mo)
                            mu = safe_max(mn)
                            f1 = np.exp2(W["m"][v] - mu)
                            f2 = np.exp2(mo - mu)
                            W["l"][v] = W["l"][v] * f1 + lo * f2
                            ao = W["acc"][v][LANES ^ off]
                            W["acc"][v] = W["acc"][v] * f1[:, None] + ao * f2[:, None]
                            W["m"][v] = mn
                        off <<= 1
                    for lane in range(32):
                        if kg[lane] == 0:
                            for v in range(M):
                                for j in range(VPT):
                                    d0 = (j * TPK + li[lane]) * VEC
                                    s_acc[warp, v, d0:d0 + VEC] = W["acc"][v][lane, j * VEC:(j + 1) * VEC]
                                if li[lane] == 0:
                                    s_m[warp, v] = W["m"][v][lane]
                                    s_l[warp, v] = W["l"][v][lane]
                for i in range(M * D):
                    v, d = i // D, i % D
                    r, hh = v // hc, v % hc
                    if r >= nrows or hh >= nheads:
                        continue
                    merge_and_store(P, npart, part, t0 + r, head0 + hh, d, s_m[:, v], s_l[:, v], s_acc[:, v, d], put,
                                    (ws_acc, ws_m, ws_l, ws_written))
    if not direct:
        combine(P, npart, part_sz, ws_acc, ws_m, ws_l, ws_written, put)
    return out, written


# ----------------------------------------------------------------------------------------------
# paged_decode_mma.cu (bf16 activations, fp8 cache, one query row per sequence)
# ----------------------------------------------------------------------------------------------

KTILE = 16


def mma_rows8(c, a0, a2, b0, b1):
    """mma_f16_rows8: a0/a2 [32][2] (A rows 8..15 zero), b0/b1 [32][2]."""
    a = np.zeros((32, 4, 2), np.float32)
    a[:, 0], a[:, 2] = a0, a2
    return mma_16816(c, a, b0, b1)


def emulate_decode_mma(P, override=0):
    D, H = P.D, P.H
    assert P.dtype == "bf16" and P.kv == "fp8" and P.max_query_len == 1 and D in (64, 128)
    pl = plan_paged(P, override)
    hc, chunks, group, npart, part_sz = pl["hc"], pl["chunks"], pl["group"], pl["np"], pl["partition"]
    assert pl["rows"] == 1 and hc <= 8
    direct = npart == 1
    qscale = f32(f32(P.scale * f32(LOG2E)) * P.k_scale)
    KSTEPS, NT_O, V_WORDS, ACC_STRIDE = D // 16, D // 8, D // 32, D + 4
    out, written, ws_acc, ws_m, ws_l, ws_written = decode_buffers(P, npart)

    def put(t, col, val):
        out[t, col] = bf16(val)
        written[t, col] += 1

    def acc_at(d):
        return d + d // (D // 4)

    def lane_bytes(codes, pos, c1, table, b0, col0, width):
        """Per lane: `width` code bytes at column col0[lane] of key pos[lane]'s row; 0 past c1."""
        out_b = np.zeros((32, width), np.uint8)
        for lane in range(32):
            if pos[lane] < c1:
                row = table[(pos[lane] // P.bs) - b0] * P.bs + (pos[lane] & (P.bs - 1))
                out_b[lane] = codes[row, col0[lane]:col0[lane] + width]
        return out_b

    for t0 in range(P.num_tokens):
        for by in range(P.KVH * chunks):
            kvh, chunk = by // chunks, by % chunks
            for part in range(npart):
                head0 = kvh * group + chunk * hc
                nheads = min(hc, group - chunk * hc)
                s = find_seq(P.qs, P.num_seqs, t0)
                kb, ke = 1, 0
                if s >= 0:
                    qe = int(P.qs[s + 1])
                    kend = key_end(P, s)
                    kb, hi = key_range(int(P.seq_lens[s]) - qe + t0, P.window, kend)
                    kb, ke = clip_to_partition(kb, hi + 1, part, npart, part_sz)
                if kb >= ke:
                    if direct:
                        for i in range(nheads * D):
                            put(t0, head0 * D + i, 0.0)
                    continue
                # Q A fragments: lane (g, t): head g, dims t*D/4 + 4ks + {0,1} (a0), {2,3} (a2), in f16
                qa0 = np.zeros((KSTEPS, 32, 2), np.float32)
                qa2 = np.zeros((KSTEPS, 32, 2), np.float32)
                for lane in range(32):
                    g, t = lane >> 2, lane & 3
                    if g < nheads:
                        base_col = (head0 + g) * D + t * (D // 4)
                        for ks in range(KSTEPS):
                            qa0[ks, lane] = f16(P.q[t0, base_col + 4 * ks:base_col + 4 * ks + 2])
                            qa2[ks, lane] = f16(P.q[t0, base_col + 4 * ks + 2:base_col + 4 * ks + 4])
                warps = [dict(o=np.zeros((NT_O, 32, 4), np.float32), m=np.full(32, -np.inf, np.float32),
                              l=np.zeros(32, np.float32)) for _ in range(KWARPS)]
                kcol0 = kvh * D + TQ * (D // 4)
                vcol0 = kvh * D + G * (D // 8)
                c0 = kb
                while c0 < ke:
                    c1 = min(ke, c0 + KTABLE_CHUNK)
                    b0 = c0 // P.bs
                    nb = (c1 - 1) // P.bs - b0 + 1
                    table = [int(P.bt[s * P.mbps + b0 + i]) for i in range(nb)]
                    for warp in range(KWARPS):
                        W = warps[warp]
                        base = c0 + warp * KTILE
                        while base < c1:
                            kw = [words(lane_bytes(P.k8, base + 8 * j + G, c1, table, b0, kcol0, D // 4)) for j in range(2)]
                            vw = [words(lane_bytes(P.v8, base + 2 * TQ + (i & 1) + 8 * (i >> 1), c1, table, b0, vcol0, D // 8))
                                  for i in range(4)]
                            sc = []
                            for j in range(2):
                                acc = np.zeros((32, 4), np.float32)
                                for ks in range(KSTEPS):
                                    acc = mma_rows8(acc, qa0[ks], qa2[ks], e4m3x2_to_f16x2(kw[j][:, ks]),
                                                    e4m3x2_to_f16x2(kw[j][:, ks] >> 16))
                                sc.append(acc)
                            mx = np.full(32, -np.inf, np.float32)
                            for j in range(2):
                                for i in range(2):
                                    kp = base + 8 * j + 2 * TQ + i
                                    sc[j][:, i] = np.where(kp < c1, sc[j][:, i] * qscale, np.float32(-np.inf))
                                    mx = np.maximum(mx, sc[j][:, i])
                            mx = np.maximum(mx, shfl_xor(mx, 1))
                            mx = np.maximum(mx, shfl_xor(mx, 2))
                            mn = np.maximum(W["m"], mx)
                            mu = safe_max(mn)
                            alpha = np.exp2(W["m"] - mu).astype(np.float32)
                            W["m"] = mn
                            psum = np.zeros(32, np.float32)
                            for j in range(2):
                                for i in range(2):
                                    sc[j][:, i] = np.exp2(sc[j][:, i] - mu)
                                    psum += sc[j][:, i]
                            W["l"] = W["l"] * alpha + psum
                            W["o"][:, :, 0] *= alpha
                            W["o"][:, :, 1] *= alpha
                            pa0 = f16(sc[0][:, 0:2])
                            pa2 = f16(sc[1][:, 0:2])
                            for w in range(V_WORDS):
                                lo01 = byte_perm(vw[0][:, w], vw[1][:, w], 0x5140)
                                hi01 = byte_perm(vw[0][:, w], vw[1][:, w], 0x7362)
                                lo89 = byte_perm(vw[2][:, w], vw[3][:, w], 0x5140)
                                hi89 = byte_perm(vw[2][:, w], vw[3][:, w], 0x7362)
                                for jj, (x, y) in enumerate([(lo01, lo89), (lo01 >> 16, lo89 >> 16), (hi01, hi89),
                                                             (hi01 >> 16, hi89 >> 16)]):
                                    W["o"][4 * w + jj] = mma_rows8(W["o"][4 * w + jj], pa0, pa2, e4m3x2_to_f16x2(x),
                                                                   e4m3x2_to_f16x2(y))
                            base += KWARPS * KTILE
                    c0 += KTABLE_CHUNK
                s_acc = np.full((KWARPS, 8, ACC_STRIDE), np.nan, np.float32)
                s_m = np.zeros((KWARPS, 8), np.float32)
                s_l = np.zeros((KWARPS, 8), np.float32)
                for warp in range(KWARPS):
                    W = warps[warp]
                    lsum = W["l"] + shfl_xor(W["l"], 1)
                    lsum = lsum + shfl_xor(lsum, 2)
                    stores = []
                    for j in range(NT_O):
                        for lane in range(32):
                            g, t = lane >> 2, lane & 3
                            for half in range(2):
                                a_ = acc_at((2 * t + half) * (D // 8) + j)
                                s_acc[warp, g, a_] = W["o"][j, lane, half]
                                stores.append((g, a_))
                        banks = [(g * ACC_STRIDE + a_) % 32 for g, a_ in stores[-64:][0::2]]
                        assert len(set(banks)) == 32, "s_acc stores of one register conflict"
                    assert len(set(stores)) == len(stores) == 8 * D, "s_acc slots written twice or missed"
                    for lane in range(32):
                        if lane & 3 == 0:
                            s_m[warp, lane >> 2] = W["m"][lane]
                            s_l[warp, lane >> 2] = lsum[lane]
                for i in range(nheads * D):
                    hh, d = i // D, i % D
                    merge_and_store(P, npart, part, t0, head0 + hh, d, s_m[:, hh], s_l[:, hh], s_acc[:, hh, acc_at(d)], put,
                                    (ws_acc, ws_m, ws_l, ws_written))
    if not direct:
        combine(P, npart, part_sz, ws_acc, ws_m, ws_l, ws_written, put)
    return out, written


# ----------------------------------------------------------------------------------------------


def check(name, P, out, written, tol):
    ref = P.reference()
    ok = True
    msgs = []
    if np.any(written != 1):
        ok = False
        msgs.append(f"{int((written == 0).sum())} unwritten, {int((written > 1).sum())} written twice")
    if np.isnan(out).any():
        ok = False
        msgs.append("NaN")
    o = np.nan_to_num(out.astype(np.float64))
    err = np.linalg.norm(o - ref) / max(np.linalg.norm(ref), 1e-30)
    if not err < tol:
        ok = False
    print(f"{name:58s} rel_err {err:.3e}  {'PASS' if ok else 'FAIL'} {' '.join(msgs)}")
    return ok


def main():
    ok = True
    # flash_prefill: every head_dim, partial tiles, tiles straddling sequences, windows, graph padding
    pcases = [
        ("prefill d128 gqa2 bs16", dict(seqs=[(37, 37), (130, 130)], H=4, KVH=2, D=128, bs=16, window=0)),
        ("prefill d64 mha bs32 lead/pad", dict(seqs=[(70, 70), (5, 5), (100, 1)], H=2, KVH=2, D=64, bs=32, window=0,
                                               lead=3, pad=4, extra=100)),
        ("prefill d32 mqa window", dict(seqs=[(150, 80), (20, 20)], H=2, KVH=1, D=32, bs=16, window=45)),
        ("prefill d16 bs32 chunked", dict(seqs=[(200, 70), (9, 0), (66, 1)], H=2, KVH=1, D=16, bs=32, window=0)),
        ("prefill d256 bs16 chunked window", dict(seqs=[(120, 50), (33, 33)], H=2, KVH=1, D=256, bs=16, window=40)),
        ("prefill d64 window1", dict(seqs=[(30, 30), (5, 2)], H=1, KVH=1, D=64, bs=16, window=1)),
        ("prefill d128 gqa4 bs16 chunked lead", dict(seqs=[(300, 100), (64, 64), (20, 1)], H=4, KVH=1, D=128, bs=16,
                                                     window=0, lead=1)),
        ("prefill d64 gqa2 bs1 chunked", dict(seqs=[(150, 70)], H=2, KVH=1, D=64, bs=1, window=0)),
        ("prefill d32 gqa2 bs32 window graph", dict(seqs=[(90, 90), (7, 3)], H=4, KVH=2, D=32, bs=32, window=30,
                                                    pad=2, extra=64)),
    ]
    for i, (name, kw) in enumerate(pcases):
        P = Problem(seed=i, dtype="bf16", **kw)
        for hp in (1, 2):
            if hp == 2 and prefill_heads_per_block(P, 0) != 2:
                continue
            out, written = emulate_prefill(P, hp)
            ok = check(f"flash_prefill HP={hp} " + name, P, out, written, 2e-2) and ok
    # paged: decode, multi-row (f32 path), split-K with combine, every head_dim, group sizes
    gcases = [
        ("decode d128 gqa4", "bf16", 0, dict(seqs=[(1, 1), (17, 1), (600, 1)], H=8, KVH=2, D=128, bs=16, window=0)),
        ("decode d128 gqa4 split128", "bf16", 128, dict(seqs=[(1, 1), (17, 1), (600, 1)], H=8, KVH=2, D=128, bs=16,
                                                         window=0)),
        ("decode d64 mqa16 split128 graph", "f32", 128, dict(seqs=[(300, 1), (5, 1)], H=16, KVH=1, D=64, bs=32,
                                                              window=0, pad=2, extra=700)),
        ("decode d16 gqa3 window", "f32", 0, dict(seqs=[(700, 1), (9, 1)], H=3, KVH=1, D=16, bs=16, window=100)),
        ("decode d256 bf16 split128", "bf16", 128, dict(seqs=[(300, 1)], H=2, KVH=1, D=256, bs=16, window=0)),
        ("decode d256 f32", "f32", 0, dict(seqs=[(40, 1)], H=2, KVH=1, D=256, bs=16, window=0)),
        ("multirow f32 d32 mha", "f32", 0, dict(seqs=[(40, 40), (70, 13), (3, 1)], H=2, KVH=2, D=32, bs=16, window=0,
                                                lead=2, pad=1)),
        ("multirow f32 d64 gqa3 split128 window", "f32", 128, dict(seqs=[(300, 20), (30, 30)], H=6, KVH=2, D=64,
                                                                    bs=16, window=50)),
        ("multirow bf16 d128 gqa2 split128", "bf16", 128, dict(seqs=[(260, 11)], H=4, KVH=2, D=128, bs=32, window=0)),
        ("decode d32 nosplit long bs1", "bf16", 1 << 30, dict(seqs=[(1300, 1), (513, 1)], H=2, KVH=1, D=32, bs=1,
                                                              window=0)),
        ("multirow f32 d16 nosplit long window", "f32", 1 << 30, dict(seqs=[(1100, 9)], H=2, KVH=1, D=16, bs=16,
                                                                       window=700)),
    ]
    for i, (name, dt, override, kw) in enumerate(gcases):
        P = Problem(seed=100 + i, dtype=dt, **kw)
        out, written = emulate_paged(P, override)
        ok = check("paged " + name, P, out, written, 1e-5 if dt == "f32" else 2e-2) and ok
    # fp8 e4m3 caches (random finite codes, non-unit scales): the CUDA-core paths, prefill staging
    # (incl. D = 16, where half the threads have no chunk) and the tensor-core decode
    fcases = [
        ("paged decode d128 gqa4 f32 split128", emulate_paged, "f32", 128,
         dict(seqs=[(1, 1), (40, 1), (300, 1)], H=8, KVH=2, D=128, bs=16, window=0)),
        ("paged multirow d32 bf16 window", emulate_paged, "bf16", 0,
         dict(seqs=[(70, 9), (5, 1)], H=2, KVH=1, D=32, bs=16, window=20)),
        ("flash_prefill d128 gqa2 chunked", emulate_prefill, "bf16", 0,
         dict(seqs=[(150, 70), (33, 33)], H=4, KVH=2, D=128, bs=16, window=0, lead=1)),
        ("flash_prefill d16 bs32", emulate_prefill, "bf16", 0, dict(seqs=[(90, 90), (3, 1)], H=2, KVH=1, D=16, bs=32,
                                                                       window=0)),
        ("flash_prefill d256 window", emulate_prefill, "bf16", 1, dict(seqs=[(80, 40)], H=2, KVH=1, D=256, bs=16,
                                                                           window=30)),
        ("decode_mma d128 gqa4", emulate_decode_mma, "bf16", 0,
         dict(seqs=[(1, 1), (17, 1), (600, 1), (0, 0)], H=8, KVH=2, D=128, bs=16, window=0, pad=1)),
        ("decode_mma d128 gqa4 split128 graph", emulate_decode_mma, "bf16", 128,
         dict(seqs=[(300, 1), (5, 1)], H=8, KVH=2, D=128, bs=16, window=0, lead=1, extra=300)),
        ("decode_mma d64 gqa3 window bs1", emulate_decode_mma, "bf16", 0,
         dict(seqs=[(700, 1), (9, 1)], H=6, KVH=2, D=64, bs=1, window=100)),
        ("decode_mma d64 mqa12 (2 slices) nosplit long", emulate_decode_mma, "bf16", 1 << 30,
         dict(seqs=[(1100, 1), (40, 1)], H=12, KVH=1, D=64, bs=32, window=0)),
        ("decode_mma d128 gqa8 split128", emulate_decode_mma, "bf16", 128,
         dict(seqs=[(260, 1)], H=8, KVH=1, D=128, bs=16, window=0)),
    ]
    for i, (name, emulate, dt, arg, kw) in enumerate(fcases):
        P = Problem(seed=200 + i, dtype=dt, kv="fp8", **kw)
        out, written = emulate(P, arg)
        ok = check("fp8 " + name, P, out, written, 1e-5 if dt == "f32" else 2e-2) and ok
    print("ALL PASS" if ok else "FAILURES")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

"""The two model shapes: a ~10M-parameter main model and a ~1.6M-parameter draft for speculative
decoding, both Llama (RMSNorm, RoPE, SwiGLU, GQA) with tied embeddings to keep the files small."""
from transformers import LlamaConfig

SHAPES = {
    "main": dict(hidden_size=384, intermediate_size=896, num_hidden_layers=6, num_attention_heads=6, num_key_value_heads=2),
    "draft": dict(hidden_size=192, intermediate_size=512, num_hidden_layers=2, num_attention_heads=3, num_key_value_heads=1),
}


def llama_config(shape, vocab_size, context, bos_id, eos_id):
    return LlamaConfig(
        vocab_size=vocab_size,
        head_dim=64,
        max_position_embeddings=context,
        rms_norm_eps=1e-5,
        rope_parameters=dict(rope_type="default", rope_theta=10000.0),
        tie_word_embeddings=True,
        bos_token_id=bos_id,
        eos_token_id=eos_id,
        **SHAPES[shape],
    )

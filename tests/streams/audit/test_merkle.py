"""RFC 6962 hashing, proofs and verification against published and golden vectors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from streams.audit.exceptions import (
    HashSizeError,
    IndexOutOfRangeError,
    ProofError,
    ProofLengthError,
    RootMismatchError,
    TreeSizeError,
)
from streams.audit.merkle import (
    EMPTY_ROOT,
    LEAF_PREFIX,
    NODE_PREFIX,
    MemoryNodeStore,
    MerkleLog,
    consistency_proof_length,
    inclusion_proof_length,
    is_valid_consistency,
    is_valid_inclusion,
    leaf_hash,
    node_hash,
    root_from_inclusion_proof,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)
from tests.streams.audit import make_vectors, rfc6962_reference

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).parent / "testdata" / "rfc6962_vectors.json").read_text("utf-8")
)
LEAVES = [bytes.fromhex(leaf) for leaf in VECTORS["leaves"]]


def h(value: str) -> bytes:
    return bytes.fromhex(value)


def hs(values: list[str]) -> list[bytes]:
    return [bytes.fromhex(value) for value in values]


def eight_leaf_log() -> MerkleLog:
    log = MerkleLog(MemoryNodeStore())
    log.append_many(LEAVES)
    return log


# Published in transparency-dev/merkle proof/verify_test.go (the CT vectors);
# roots[n - 1] is the root of the first n leaves.
PUBLISHED_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
PUBLISHED_INCLUSION_PROOFS = {  # (0-based leaf index, tree size): audit path
    (0, 8): [
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
    (5, 8): [
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ],
    (2, 3): ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
    (1, 5): [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    ],
}
PUBLISHED_CONSISTENCY_PROOFS = {
    (1, 8): [
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
    (6, 8): [
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ],
    (2, 5): [
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    ],
    (6, 7): [
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ],
}


# --- Hashing ---------------------------------------------------------------------


def test_prefixes_are_the_rfc_6962_domain_separators() -> None:
    assert (LEAF_PREFIX, NODE_PREFIX) == (b"\x00", b"\x01")


def test_empty_tree_hashes_to_sha256_of_nothing() -> None:
    # echo -n | sha256sum
    want = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert EMPTY_ROOT.hex() == want
    assert root_from_leaf_hashes([]).hex() == want
    assert MerkleLog(MemoryNodeStore()).root().hex() == want


def test_empty_leaf_hash_differs_from_the_empty_tree() -> None:
    # echo -n 00 | xxd -r -p | sha256sum
    want = "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    assert leaf_hash(b"").hex() == want
    assert leaf_hash(b"") != EMPTY_ROOT


def test_leaf_hash_matches_the_published_value() -> None:
    # echo -n 004C313233343536 | xxd -r -p | sha256sum
    want = "395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56"
    assert leaf_hash(b"L123456").hex() == want


def test_node_hash_matches_the_published_value() -> None:
    # echo -n 014E3132334E343536 | xxd -r -p | sha256sum
    want = "aa217fe888e47007fa15edab33c2b492a722cb106c64667fc2b044444de66bbb"
    assert node_hash(b"N123", b"N456").hex() == want


def test_a_node_is_not_the_leaf_of_its_childrens_concatenation() -> None:
    left, right = leaf_hash(b"Hello"), leaf_hash(b"World")
    assert left != right
    assert node_hash(left, right) != leaf_hash(left + right)


def test_node_hash_depends_on_child_order() -> None:
    left, right = leaf_hash(b"Hello"), leaf_hash(b"World")
    assert node_hash(left, right) != node_hash(right, left)


# --- Published vectors -----------------------------------------------------------


def test_eight_leaf_tree_has_the_published_ct_root() -> None:
    want = "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"
    assert eight_leaf_log().root().hex() == want
    assert root_from_leaf_hashes([leaf_hash(leaf) for leaf in LEAVES]).hex() == want


def test_every_past_size_has_the_published_root() -> None:
    log = eight_leaf_log()
    assert [log.root(size).hex() for size in range(1, 9)] == PUBLISHED_ROOTS


@pytest.mark.parametrize("case", sorted(PUBLISHED_INCLUSION_PROOFS))
def test_inclusion_proofs_equal_the_published_ones(case: tuple[int, int]) -> None:
    index, size = case
    log = eight_leaf_log()
    proof = log.inclusion_proof(index, size)
    assert [value.hex() for value in proof] == PUBLISHED_INCLUSION_PROOFS[case]
    verify_inclusion(leaf_hash(LEAVES[index]), index, size, proof, h(PUBLISHED_ROOTS[size - 1]))


@pytest.mark.parametrize("case", sorted(PUBLISHED_CONSISTENCY_PROOFS))
def test_consistency_proofs_equal_the_published_ones(case: tuple[int, int]) -> None:
    first, second = case
    proof = eight_leaf_log().consistency_proof(first, second)
    assert [value.hex() for value in proof] == PUBLISHED_CONSISTENCY_PROOFS[case]
    roots = h(PUBLISHED_ROOTS[first - 1]), h(PUBLISHED_ROOTS[second - 1])
    verify_consistency(first, second, *roots, proof)


# --- Golden file (testdata/rfc6962_vectors.json) -----------------------------------


def test_golden_file_is_what_make_vectors_writes() -> None:
    # Fails when the file is stale: rerun the command in make_vectors.py.
    assert VECTORS == json.loads(json.dumps(make_vectors.rfc6962_vectors()))


def test_golden_roots_agree_with_the_published_ones() -> None:
    assert VECTORS["roots"][0] == EMPTY_ROOT.hex()
    assert VECTORS["roots"][1:] == PUBLISHED_ROOTS


def test_log_reproduces_every_golden_root_and_proof() -> None:
    log = eight_leaf_log()
    assert [log.root(size).hex() for size in range(9)] == VECTORS["roots"]
    for case in VECTORS["inclusion"]:
        proof = log.inclusion_proof(case["leaf_index"], case["tree_size"])
        assert [value.hex() for value in proof] == case["proof"], case
    for case in VECTORS["consistency"]:
        proof = log.consistency_proof(case["first"], case["second"])
        assert [value.hex() for value in proof] == case["proof"], case


def test_every_golden_proof_verifies() -> None:
    for case in VECTORS["inclusion"]:
        args = case["leaf_index"], case["tree_size"], hs(case["proof"]), h(case["root"])
        verify_inclusion(h(case["leaf_hash"]), *args)
    for case in VECTORS["consistency"]:
        roots = h(case["first_root"]), h(case["second_root"])
        verify_consistency(case["first"], case["second"], *roots, hs(case["proof"]))


def test_every_inclusion_probe_is_rejected() -> None:
    accepted = [
        f"{probe['case']} {probe['name']}"
        for probe in VECTORS["inclusion_probes"]
        if is_valid_inclusion(
            h(probe["leaf_hash"]),
            probe["leaf_index"],
            probe["tree_size"],
            hs(probe["proof"]),
            h(probe["root"]),
        )
    ]
    assert accepted == [], "verified despite the mutation: " + ", ".join(accepted)


def test_every_consistency_probe_is_rejected() -> None:
    accepted = [
        f"{probe['case']} {probe['name']}"
        for probe in VECTORS["consistency_probes"]
        if is_valid_consistency(
            probe["first"],
            probe["second"],
            h(probe["first_root"]),
            h(probe["second_root"]),
            hs(probe["proof"]),
        )
    ]
    assert accepted == [], "verified despite the mutation: " + ", ".join(accepted)


def test_probe_files_name_the_mutations_the_house_style_asks_for() -> None:
    names = {probe["name"] for probe in VECTORS["inclusion_probes"]}
    names |= {probe["name"] for probe in VECTORS["consistency_probes"]}
    wanted = {"wrong-index", "swapped-hashes", "truncated-proof", "extra-hash"}
    assert wanted | {"wrong-root", "wrong-size", "swapped-roots"} <= names


# --- Verifier input checks (got/want errors) -------------------------------------------


def test_inclusion_of_an_index_beyond_the_tree_is_refused() -> None:
    with pytest.raises(IndexOutOfRangeError) as error:
        verify_inclusion(leaf_hash(b""), 8, 8, [], EMPTY_ROOT)
    assert (error.value.index, error.value.size) == (8, 8)


def test_inclusion_in_the_empty_tree_is_refused() -> None:
    with pytest.raises(IndexOutOfRangeError):
        verify_inclusion(EMPTY_ROOT, 0, 0, [], EMPTY_ROOT)


def test_a_proof_of_the_wrong_length_reports_got_and_want() -> None:
    proof = hs(PUBLISHED_INCLUSION_PROOFS[(0, 8)])[:2]
    with pytest.raises(ProofLengthError) as error:
        verify_inclusion(leaf_hash(LEAVES[0]), 0, 8, proof, h(PUBLISHED_ROOTS[7]))
    assert (error.value.got, error.value.want) == (2, 3)


def test_a_wrong_root_reports_both_roots() -> None:
    proof = hs(PUBLISHED_INCLUSION_PROOFS[(0, 8)])
    want = h(PUBLISHED_ROOTS[6])
    with pytest.raises(RootMismatchError) as error:
        verify_inclusion(leaf_hash(LEAVES[0]), 0, 8, proof, want)
    assert error.value.got == h(PUBLISHED_ROOTS[7])
    assert error.value.want == want


def test_root_from_inclusion_proof_returns_the_computed_root() -> None:
    proof = hs(PUBLISHED_INCLUSION_PROOFS[(5, 8)])
    assert root_from_inclusion_proof(leaf_hash(LEAVES[5]), 5, 8, proof) == h(PUBLISHED_ROOTS[7])


def test_a_hash_of_the_wrong_size_is_refused() -> None:
    with pytest.raises(HashSizeError) as error:
        verify_inclusion(b"short", 0, 1, [], leaf_hash(b""))
    assert (error.value.got, error.value.want) == (5, 32)


@pytest.mark.parametrize("first, second", [(0, 1), (0, 0), (2, 1), (-1, 3)])
def test_consistency_needs_zero_below_first_up_to_second(first: int, second: int) -> None:
    with pytest.raises(TreeSizeError):
        verify_consistency(first, second, EMPTY_ROOT, EMPTY_ROOT, [])


def test_equal_sizes_are_consistent_only_with_equal_roots_and_no_proof() -> None:
    root = h(PUBLISHED_ROOTS[2])
    verify_consistency(3, 3, root, root, [])
    with pytest.raises(RootMismatchError):
        verify_consistency(3, 3, root, EMPTY_ROOT, [])
    with pytest.raises(ProofLengthError):
        verify_consistency(3, 3, root, root, [root])


def test_consistency_mismatch_names_the_root_that_differs() -> None:
    proof = hs(PUBLISHED_CONSISTENCY_PROOFS[(6, 8)])
    first, second = h(PUBLISHED_ROOTS[5]), h(PUBLISHED_ROOTS[7])
    with pytest.raises(RootMismatchError) as error:
        verify_consistency(6, 8, first, EMPTY_ROOT, proof)
    assert (error.value.what, error.value.got) == ("second root", second)
    with pytest.raises(RootMismatchError) as error:
        verify_consistency(6, 8, EMPTY_ROOT, second, proof)
    assert (error.value.what, error.value.got) == ("first root", first)


def test_every_verification_error_is_a_proof_error() -> None:
    for error in (IndexOutOfRangeError, TreeSizeError, ProofLengthError, HashSizeError):
        assert issubclass(error, ProofError)
    assert issubclass(RootMismatchError, ProofError)


def test_proof_length_formulas_match_the_rfc_recursion() -> None:
    for size in range(1, 65):
        leaves = [bytes([n]) for n in range(size)]
        for index in range(size):
            want = len(rfc6962_reference.path(index, leaves))
            assert inclusion_proof_length(index, size) == want, (index, size)
        for first in range(1, size + 1):
            want = len(rfc6962_reference.proof(first, leaves))
            assert consistency_proof_length(first, size) == want, (first, size)

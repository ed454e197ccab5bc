"""Small task heads fitted in seconds on the shared data, for adaptive-attack tests.

Each head sits on the 2-layer embedded encoder, frozen; only the head's linear layer is fitted
(full batch, Adam) on the encoder's states of a few real documents. The attacks then run on
those documents: a victim that gets them right, so there is something to attack.
"""

from __future__ import annotations

from pathlib import Path


def fit_tagger(base: Path, docs: list[dict], labels: list[str], out: Path, steps: int = 150):
    """A ``*ForTokenClassification`` checkpoint fitted on ``docs`` (first sub-token labels)."""
    import torch
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(base)
    model = AutoModelForTokenClassification.from_pretrained(
        base, num_labels=len(labels), id2label=dict(enumerate(labels)),
        label2id={n: i for i, n in enumerate(labels)},
    )  # fmt: skip
    enc = tokenizer([d["tokens"] for d in docs], is_split_into_words=True, truncation=True,
                    max_length=256, padding=True, return_tensors="pt")  # fmt: skip
    gold = torch.full(enc["input_ids"].shape, -100)
    for j, doc in enumerate(docs):
        seen = set()
        for pos, word in enumerate(enc.word_ids(j)):
            if word is not None and word not in seen:
                seen.add(word)
                gold[j, pos] = labels.index(doc["tags"][word])
    with torch.no_grad():
        states = model.base_model(**enc).last_hidden_state
    optimizer = torch.optim.Adam(model.classifier.parameters(), lr=1e-2)
    for _ in range(steps):
        optimizer.zero_grad()
        logits = model.classifier(states)
        loss = torch.nn.functional.cross_entropy(
            logits.view(-1, len(labels)), gold.view(-1), ignore_index=-100
        )
        loss.backward()
        optimizer.step()
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def fit_qa(base: Path, docs: list[dict], out: Path, steps: int = 300):
    """A ``*ForQuestionAnswering`` checkpoint fitted on ``docs`` (first gold answer's span)."""
    import torch
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(base)
    model = AutoModelForQuestionAnswering.from_pretrained(base)
    enc = tokenizer([d["question"] for d in docs], [d["context"] for d in docs],
                    truncation="only_second", max_length=384, padding=True,
                    return_offsets_mapping=True, return_tensors="pt")  # fmt: skip
    offsets = enc.pop("offset_mapping").tolist()
    keep, starts, ends = [], [], []
    for j, doc in enumerate(docs):
        a0 = doc["answers"]["answer_start"][0]
        a1 = a0 + len(doc["answers"]["text"][0])
        side = enc.sequence_ids(j)
        s = e = None
        for pos, (o0, o1) in enumerate(offsets[j]):
            if side[pos] == 1 and s is None and o0 <= a0 < o1:
                s = pos
            if side[pos] == 1 and o0 < a1 <= o1:
                e = pos
        if s is not None and e is not None:
            keep.append(j)
            starts.append(s)
            ends.append(e)
    with torch.no_grad():
        states = model.base_model(**{k: v[keep] for k, v in enc.items()}).last_hidden_state
    context = torch.tensor([[x == 1 for x in enc.sequence_ids(j)] for j in keep])
    gold_s, gold_e = torch.tensor(starts), torch.tensor(ends)
    optimizer = torch.optim.Adam(model.qa_outputs.parameters(), lr=1e-2)
    for _ in range(steps):
        optimizer.zero_grad()
        logits = model.qa_outputs(states).masked_fill(~context.unsqueeze(-1), -1e4)
        loss = torch.nn.functional.cross_entropy(logits[..., 0], gold_s)
        loss = loss + torch.nn.functional.cross_entropy(logits[..., 1], gold_e)
        loss.backward()
        optimizer.step()
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def fit_xnli(base: Path, docs: list[dict], out: Path, steps: int = 1000):
    """An XNLI ``*ForSequenceClassification`` whose linear head is fitted on ``docs`` over the
    frozen encoder's [CLS] state (the pooler set to tanh of it): it gets most of ``docs`` right
    and sits near enough to its decision boundary that typos move it. Returns (model, tokenizer).
    """
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    labels = ["entailment", "neutral", "contradiction"]
    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(base)
    model = AutoModelForSequenceClassification.from_pretrained(
        base, num_labels=3, id2label=dict(enumerate(labels)),
        label2id={n: i for i, n in enumerate(labels)},
    )  # fmt: skip
    enc = tokenizer([d["premise"] for d in docs], [d["hypothesis"] for d in docs],
                    truncation=True, padding=True, return_tensors="pt")  # fmt: skip
    with torch.no_grad():
        model.base_model.pooler.dense.weight.copy_(torch.eye(model.config.hidden_size))
        model.base_model.pooler.dense.bias.zero_()
        states = model.base_model(**enc).pooler_output  # what the head reads
    gold = torch.tensor([int(d["label"]) for d in docs])
    optimizer = torch.optim.Adam(model.classifier.parameters(), lr=0.1)
    for _ in range(steps):
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model.classifier(states), gold).backward()
        optimizer.step()
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return model.eval(), tokenizer

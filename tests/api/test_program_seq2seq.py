# ruff: noqa: UP008, UP031, E222, N802, N803, N806  (the tutorial's own idioms, kept as written)
"""PyTorch's "NLP From Scratch: Translation with a Sequence to Sequence Network and Attention" on mathdl.

The tutorial's code transcribed with its idioms kept: ``Lang`` (word2index / index2word with SOS and
EOS), ``EncoderRNN`` (Embedding, ``nn.GRU(..., batch_first=True)``, Dropout), ``BahdanauAttention``
(``self.Va(torch.tanh(self.Wa(query) + self.Ua(keys)))``, ``squeeze(2).unsqueeze(1)``,
``torch.bmm(weights, keys)``), ``AttnDecoderRNN`` (``torch.empty(batch_size, 1, dtype=torch.long,
device=device).fill_(SOS_token)``, teacher forcing with ``target_tensor[:, i].unsqueeze(1)``, greedy
decoding with ``topk(1)`` and ``squeeze(-1).detach()``, ``hidden.permute(1, 0, 2)``, ``torch.cat``),
``get_dataloader`` (``TensorDataset(torch.LongTensor(input_ids).to(device), ...)``,
``RandomSampler``), ``train_epoch`` with two Adam optimizers and NLLLoss, and ``evaluate``.
Changed: the eng-fra corpus becomes a few pairs written here, and the sizes and epochs shrink.

With one batch an epoch the sampler's order changes no loss, so with dropout 0 the training is
compared with PyTorch's from the same initial weights.
"""

import time

import numpy as np
import pytest

import mathdl

torch = pytest.importorskip("torch", reason="PyTorch is the oracle of this parity test")

PAIRS = [
    ("je suis content", "i am happy"), ("je suis fatigue", "i am tired"), ("il est grand", "he is tall"),
    ("elle est petite", "she is small"), ("nous sommes prets", "we are ready"), ("il est fatigue", "he is tired"),
    ("elle est contente", "she is happy"), ("je suis grand", "i am tall"),
]


def seq2seq(torch, n_epochs=60, dropout_p=0.1, copy_from=None):
    nn, optim = torch.nn, torch.optim
    F = torch.nn.functional
    TensorDataset, DataLoader, RandomSampler = (torch.utils.data.TensorDataset, torch.utils.data.DataLoader,
                                                torch.utils.data.RandomSampler)
    log = []

    def print(*args):  # the tutorial prints; the test keeps the lines
        log.append(" ".join(str(a) for a in args))

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")

    SOS_token = 0
    EOS_token = 1

    class Lang:
        def __init__(self, name):
            self.name = name
            self.word2index = {}
            self.word2count = {}
            self.index2word = {0: "SOS", 1: "EOS"}
            self.n_words = 2  # Count SOS and EOS

        def addSentence(self, sentence):
            for word in sentence.split(' '):
                self.addWord(word)

        def addWord(self, word):
            if word not in self.word2index:
                self.word2index[word] = self.n_words
                self.word2count[word] = 1
                self.index2word[self.n_words] = word
                self.n_words += 1
            else:
                self.word2count[word] += 1

    MAX_LENGTH = 5

    def prepareData(lang1, lang2, reverse=False):
        pairs = [list(p) for p in PAIRS]  # readLangs + filterPairs, on the pairs written here
        input_lang, output_lang = Lang(lang1), Lang(lang2)
        print("Read %s sentence pairs" % len(pairs))
        for pair in pairs:
            input_lang.addSentence(pair[0])
            output_lang.addSentence(pair[1])
        print("Counted words:")
        print(input_lang.name, input_lang.n_words)
        print(output_lang.name, output_lang.n_words)
        return input_lang, output_lang, pairs

    class EncoderRNN(nn.Module):
        def __init__(self, input_size, hidden_size, dropout_p=0.1):
            super(EncoderRNN, self).__init__()
            self.hidden_size = hidden_size

            self.embedding = nn.Embedding(input_size, hidden_size)
            self.gru = nn.GRU(hidden_size, hidden_size, batch_first=True)
            self.dropout = nn.Dropout(dropout_p)

        def forward(self, input):
            embedded = self.dropout(self.embedding(input))
            output, hidden = self.gru(embedded)
            return output, hidden

    class BahdanauAttention(nn.Module):
        def __init__(self, hidden_size):
            super(BahdanauAttention, self).__init__()
            self.Wa = nn.Linear(hidden_size, hidden_size)
            self.Ua = nn.Linear(hidden_size, hidden_size)
            self.Va = nn.Linear(hidden_size, 1)

        def forward(self, query, keys):
            scores = self.Va(torch.tanh(self.Wa(query) + self.Ua(keys)))
            scores = scores.squeeze(2).unsqueeze(1)

            weights = F.softmax(scores, dim=-1)
            context = torch.bmm(weights, keys)

            return context, weights

    class AttnDecoderRNN(nn.Module):
        def __init__(self, hidden_size, output_size, dropout_p=0.1):
            super(AttnDecoderRNN, self).__init__()
            self.embedding = nn.Embedding(output_size, hidden_size)
            self.attention = BahdanauAttention(hidden_size)
            self.gru = nn.GRU(2 * hidden_size, hidden_size, batch_first=True)
            self.out = nn.Linear(hidden_size, output_size)
            self.dropout = nn.Dropout(dropout_p)

        def forward(self, encoder_outputs, encoder_hidden, target_tensor=None):
            batch_size = encoder_outputs.size(0)
            decoder_input = torch.empty(batch_size, 1, dtype=torch.long, device=device).fill_(SOS_token)
            decoder_hidden = encoder_hidden
            decoder_outputs = []
            attentions = []

            for i in range(MAX_LENGTH):
                decoder_output, decoder_hidden, attn_weights = self.forward_step(
                    decoder_input, decoder_hidden, encoder_outputs
                )
                decoder_outputs.append(decoder_output)
                attentions.append(attn_weights)

                if target_tensor is not None:
                    # Teacher forcing: Feed the target as the next input
                    decoder_input = target_tensor[:, i].unsqueeze(1) # Teacher forcing
                else:
                    # Without teacher forcing: use its own predictions as the next input
                    _, topi = decoder_output.topk(1)
                    decoder_input = topi.squeeze(-1).detach()  # detach from history as input

            decoder_outputs = torch.cat(decoder_outputs, dim=1)
            decoder_outputs = F.log_softmax(decoder_outputs, dim=-1)
            attentions = torch.cat(attentions, dim=1)

            return decoder_outputs, decoder_hidden, attentions

        def forward_step(self, input, hidden, encoder_outputs):
            embedded =  self.dropout(self.embedding(input))

            query = hidden.permute(1, 0, 2)
            context, attn_weights = self.attention(query, encoder_outputs)
            input_gru = torch.cat((embedded, context), dim=2)

            output, hidden = self.gru(input_gru, hidden)
            output = self.out(output)

            return output, hidden, attn_weights

    def indexesFromSentence(lang, sentence):
        return [lang.word2index[word] for word in sentence.split(' ')]

    def tensorFromSentence(lang, sentence):
        indexes = indexesFromSentence(lang, sentence)
        indexes.append(EOS_token)
        return torch.tensor(indexes, dtype=torch.long, device=device).view(1, -1)

    def get_dataloader(batch_size):
        input_lang, output_lang, pairs = prepareData('eng', 'fra', True)

        n = len(pairs)
        input_ids = np.zeros((n, MAX_LENGTH), dtype=np.int32)
        target_ids = np.zeros((n, MAX_LENGTH), dtype=np.int32)

        for idx, (inp, tgt) in enumerate(pairs):
            inp_ids = indexesFromSentence(input_lang, inp)
            tgt_ids = indexesFromSentence(output_lang, tgt)
            inp_ids.append(EOS_token)
            tgt_ids.append(EOS_token)
            input_ids[idx, :len(inp_ids)] = inp_ids
            target_ids[idx, :len(tgt_ids)] = tgt_ids

        train_data = TensorDataset(torch.LongTensor(input_ids).to(device),
                                   torch.LongTensor(target_ids).to(device))

        train_sampler = RandomSampler(train_data)
        train_dataloader = DataLoader(train_data, sampler=train_sampler, batch_size=batch_size)
        return input_lang, output_lang, train_dataloader

    def train_epoch(dataloader, encoder, decoder, encoder_optimizer,
              decoder_optimizer, criterion):

        total_loss = 0
        for data in dataloader:
            input_tensor, target_tensor = data

            encoder_optimizer.zero_grad()
            decoder_optimizer.zero_grad()

            encoder_outputs, encoder_hidden = encoder(input_tensor)
            decoder_outputs, _, _ = decoder(encoder_outputs, encoder_hidden, target_tensor)

            loss = criterion(
                decoder_outputs.view(-1, decoder_outputs.size(-1)),
                target_tensor.view(-1)
            )
            loss.backward()

            encoder_optimizer.step()
            decoder_optimizer.step()

            total_loss += loss.item()

        return total_loss / len(dataloader)

    losses = []

    def train(train_dataloader, encoder, decoder, n_epochs, learning_rate=0.001,
                   print_every=100, plot_every=100):
        start = time.time()
        print_loss_total = 0  # Reset every print_every

        encoder_optimizer = optim.Adam(encoder.parameters(), lr=learning_rate)
        decoder_optimizer = optim.Adam(decoder.parameters(), lr=learning_rate)
        criterion = nn.NLLLoss()

        for epoch in range(1, n_epochs + 1):
            loss = train_epoch(train_dataloader, encoder, decoder, encoder_optimizer, decoder_optimizer, criterion)
            print_loss_total += loss
            losses.append(loss)

            if epoch % print_every == 0:
                print_loss_avg = print_loss_total / print_every
                print_loss_total = 0
                print('%.1fs (%d %d%%) %.4f' % (time.time() - start, epoch, epoch / n_epochs * 100, print_loss_avg))

    def evaluate(encoder, decoder, sentence, input_lang, output_lang):
        with torch.no_grad():
            input_tensor = tensorFromSentence(input_lang, sentence)

            encoder_outputs, encoder_hidden = encoder(input_tensor)
            decoder_outputs, decoder_hidden, decoder_attn = decoder(encoder_outputs, encoder_hidden)

            _, topi = decoder_outputs.topk(1)
            decoded_ids = topi.squeeze()

            decoded_words = []
            for idx in decoded_ids:
                if idx.item() == EOS_token:
                    decoded_words.append('<EOS>')
                    break
                decoded_words.append(output_lang.index2word[idx.item()])
        return decoded_words, decoder_attn

    hidden_size = 32
    batch_size = 8

    torch.manual_seed(0)
    input_lang, output_lang, train_dataloader = get_dataloader(batch_size)

    encoder = EncoderRNN(input_lang.n_words, hidden_size, dropout_p).to(device)
    decoder = AttnDecoderRNN(hidden_size, output_lang.n_words, dropout_p).to(device)
    if copy_from is not None:  # (test only: the other library's initial weights)
        encoder.load_state_dict({k: torch.tensor(v) for k, v in copy_from[0].items()})
        decoder.load_state_dict({k: torch.tensor(v) for k, v in copy_from[1].items()})
    initial = [{k: v.detach().numpy().copy() for k, v in m.state_dict().items()} for m in (encoder, decoder)]

    train(train_dataloader, encoder, decoder, n_epochs, learning_rate=0.01, print_every=20)

    encoder.eval()
    decoder.eval()
    translations = {}
    for pair in PAIRS:
        output_words, attentions = evaluate(encoder, decoder, pair[0], input_lang, output_lang)
        translations[pair[0]] = ' '.join(output_words)
    return initial, losses, translations, attentions, log


def test_seq2seq_learns_to_translate_the_pairs():
    _, losses, translations, attentions, log = seq2seq(mathdl)
    assert log[:2] == ["Read 8 sentence pairs", "Counted words:"] and len(log) == 4 + 3  # 60 epochs, a line every 20
    assert losses[-1] < 0.1 * losses[0]
    right = sum(translations[fr] == en + " <EOS>" for fr, en in PAIRS)
    assert right >= 6, translations
    assert tuple(attentions.shape) == (1, 5, 4)  # (batch, MAX_LENGTH steps, source length with EOS)
    np.testing.assert_allclose(attentions.sum(-1).numpy(), 1.0, rtol=1e-5)


def test_seq2seq_training_matches_pytorch():
    init, ours, our_translations, _, _ = seq2seq(mathdl, n_epochs=15, dropout_p=0.0)
    _, theirs, their_translations, _, _ = seq2seq(torch, n_epochs=15, dropout_p=0.0, copy_from=init)
    np.testing.assert_allclose(ours, theirs, rtol=1e-4)
    assert our_translations == their_translations
